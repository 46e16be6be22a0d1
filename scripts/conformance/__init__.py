"""Conformance runs against the official ``@modelcontextprotocol/conformance`` suite.

``common`` installs the toolchain and runs the suite; each part module
(``proxy``: client scenarios with the proxy in the loop; ``qms``: server
scenarios against qms-mcp) exposes ``run(toolchain, out_dir) -> list[ScenarioResult]``.
``scripts/conformance.py`` runs the parts and prints one summary.
"""
