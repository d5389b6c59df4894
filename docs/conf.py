"""Sphinx configuration of the documentation site (``python -m sphinx -W -n -b html docs DIR``).

Markdown pages through MyST, the CLI reference generated from the argparse parser
(sphinx-argparse), the API reference from ``harness.api``'s docstrings (autodoc). Everything is
local: the default theme ships its assets, nothing is loaded from the network, and a broken local
link or reference is a warning, so an error under ``-W``."""

project = "asyncopt-harness"
author = "The asyncopt-harness developers"
copyright = "2026, the asyncopt-harness developers"

extensions = ["myst_parser", "sphinxarg.ext", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "screenshots/*.md"]
myst_heading_anchors = 3                      # [text](page.md#a-heading) links are checked
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["myst.xref_ambiguous"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_show_sourcelink = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False                              # the API's own types are not all documented targets
