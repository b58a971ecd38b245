"""The faultlang REPL: statements one at a time, `:` meta-commands, time travel.

One module per prompt_toolkit concern (as in ptpython): `session` is the pure logic
(`ReplSession.execute(text) -> CommandResult`, no terminal), `commands` the meta-command
registry, `completion`, `lexer`, `key_bindings`, `toolbar` and `style` the pieces the
prompt uses, and `app` only wires them together. Nothing is imported here, so that
`faultlang.repl.lexer` (a Pygments plugin) and the start-up path stay light.
"""
