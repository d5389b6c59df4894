"""Reading stored runs: comparisons and their statistics (:mod:`.compare`, :mod:`.stats`), the
regression gate (:mod:`.gate`), reports and performance profiles (:mod:`.report`, :mod:`.profiles`),
runs as data frames (:mod:`.results`), and the plugin contract checks (:mod:`.contract`)."""
