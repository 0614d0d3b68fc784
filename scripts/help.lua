-- List every command with its one-line description.
io.write(require("schedtest.cli").help_text(), "\n")
return 0
