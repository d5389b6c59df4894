"""One module per ``harness`` sub-command."""
