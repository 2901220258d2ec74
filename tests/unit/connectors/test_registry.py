import pytest

from connectors import registry
from connectors.base import Connector
from panorama.errors import ConnectorConfigError, UnknownConnectorError


@pytest.mark.parametrize("name", registry.names())
def test_every_registered_connector_loads_under_its_own_name(name):
    cls = registry.get(name)
    assert issubclass(cls, Connector)
    assert cls.name == name and cls.channel and cls.description


def test_builtins_are_declared_as_entry_points():
    assert {"segment", "sendgrid", "forms", "shopify", "zendesk", "twilio", "typeform", "loyalty", "consent",
            "hubspot", "wechat", "marketplace", "customers", "orders"} <= set(registry.names())


def test_unknown_connector_names_the_installed_ones():
    with pytest.raises(UnknownConnectorError, match="installed: .*segment"):
        registry.get("nope")


def test_check_reports_bad_config_instead_of_raising():
    wechat = registry.get("wechat")
    result = wechat.check({})
    assert not result.ok and "token" in result.problems[0]
    assert wechat.check({"token": "t"}).ok


def test_building_with_bad_config_names_the_setting():
    with pytest.raises(ConnectorConfigError) as raised:
        registry.get("marketplace")({"platform": "ebay"})
    assert raised.value.field == "platform"
