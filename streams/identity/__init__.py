"""Identity resolution: identities as nodes, the graph of customers, linking rules."""
