# Sphinx configuration of the static book (`make book`, helpers/pipeline/book.py). The notebooks are the
# executed copies of `make figures`: MyST-NB renders their stored outputs and never runs them.
project = "Model inversion in collaborative inference"
author = "mia-companion"
copyright = "the mia-companion authors"
extensions = ["myst_nb"]
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath"]
myst_update_mathjax = False  # its MathJax 3 options would hide every section from MathJax 2
exclude_patterns = ["README.md", "claims_table.md", "_build", "_mathjax", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]
html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {"home_page_in_toc": True, "show_toc_level": 2}
html_static_path = ["_mathjax"]  # helpers/pipeline/book.py copies MathJax 2 here: no CDN, math renders offline
html_last_updated_fmt = None
# MathJax 2.7 of jupyter-server-mathjax (the files of the classic notebook): STIX web fonts only
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True},
    "HTML-CSS": {"availableFonts": [], "imageFont": None, "preferredFont": None, "webFont": "STIX-Web"},
    "menuSettings": {"zoom": "None"},
}
