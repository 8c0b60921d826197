"""The README's promises: its code runs, and its two commands are where CI finds them."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_orderbook_example_runs_and_its_assertions_hold() -> None:
    example = next(b for b in _blocks("python") if "book = OrderBook(" in b)
    assert "assert book.best_bid()" in example
    exec(compile(example, "README.md", "exec"), {})


def test_consumer_example_is_valid_python() -> None:
    example = next(b for b in _blocks("python") if "async def keep_books" in b)
    compile(example, "README.md", "exec")


def test_the_first_two_commands_install_then_run_and_test() -> None:
    text = README.read_text(encoding="utf-8")
    run_cmd = re.search(r"<!-- run-command -->\n```sh\n(.+)\n```", text)
    test_cmd = re.search(r"<!-- test-command -->\n```sh\n(.+)\n```", text)
    assert run_cmd is not None
    assert test_cmd is not None
    assert "pip install ." in run_cmd.group(1)
    assert run_cmd.group(1).endswith("tradegw run")
    assert "pip install '.[test]'" in test_cmd.group(1)
    assert "pytest" in test_cmd.group(1)
    first_sh = _blocks("sh")[:2]
    assert first_sh == [run_cmd.group(1) + "\n", test_cmd.group(1) + "\n"]


def test_the_tradegw_open_consumer_is_five_lines_of_python() -> None:
    example = next(b for b in _blocks("python") if "tradegw.open()" in b)
    compile(example, "README.md", "exec")
    body = example.split("async def main() -> None:\n")[1].split("\n\n")[0]
    assert len(body.strip().splitlines()) <= 5
