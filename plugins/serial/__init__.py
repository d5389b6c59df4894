"""Reference serial plugins: mini-batch SGD and SVRG, written like the papers' algorithm boxes."""
