"""One module per command (or per family of small ones); `parser.COMMANDS` names them."""
