"""DAX files in the REPL: `dax` is completed after `on ext4`, :explain knows ext4_dax_fault."""

from __future__ import annotations

from faultlang.repl._explain import explain
from faultlang.repl.completion import suggest
from faultlang.repl.session import ReplSession


def test_dax_is_completed_after_on_ext4(session: ReplSession) -> None:
    assert "dax" in suggest("file f size 4K on ext4 ", session).texts()
    assert suggest("file f size 4K on ext4 d", session).texts() == ["dax"]


def test_explain_ext4_dax_fault_names_its_file_and_callee() -> None:
    found = explain("ext4_dax_fault", [])
    assert found is not None and found.kernel_file == "fs/ext4/file.c"
    assert "ext4_dax_huge_fault" in found.callees
    assert explain("dax_iomap_pmd_fault", []).kernel_file == "fs/dax.c"


def test_a_dax_scenario_runs_in_a_session(session: ReplSession) -> None:
    result = session.execute("file d size 64K on ext4 dax\nmap m file d size 64K shared\n"
                             "read m[0]")
    assert result.ok and result.error is None
