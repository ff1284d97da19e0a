"""Project-wide pytest set-up for the source checkout: the pytester fixture for the plugin's
own tests. Everything the claim checks need (Hypothesis profiles, mpmath precision hygiene,
collection without the deep extra) lives in ``collapse.pytest_plugin``, so that it also
holds when the checks run from an installed wheel."""
pytest_plugins = ["pytester"]
