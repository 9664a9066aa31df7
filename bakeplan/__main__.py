from bakeplan.cli import app

app(prog_name="bakeplan")
