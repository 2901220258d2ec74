import subprocess
import sys
from pathlib import Path

import pytest

from connectors.scaffold import scaffold
from panorama.errors import ConnectorError


def test_scaffolded_connector_passes_its_own_test(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acme_connectors").mkdir()
    (tmp_path / "acme_connectors" / "__init__.py").write_text("")
    module, test, entry_point = scaffold("acme_crm", Path("acme_connectors"), Path("tests"))
    assert entry_point == 'acme_crm = "acme_connectors.acme_crm:AcmeCrmConnector"'
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


@pytest.mark.parametrize("name", ["Acme", "1x", "class", "a-b"])
def test_bad_names_are_refused(name, tmp_path):
    with pytest.raises(ConnectorError):
        scaffold(name, tmp_path, tmp_path)
