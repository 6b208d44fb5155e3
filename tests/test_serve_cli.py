"""`immersion serve` refuses bad arguments before the room opens: one line, exit 1, no trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import run_cli


def _refused(tmp_path: Path, *args: str) -> str:
    result = run_cli("serve", "--port", "0", *args)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("immersion: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--takes", "/etc/hostname"], "--takes /etc/hostname: is a file, not a folder"),
        (["--takes", "/proc/takes"], "--takes /proc/takes: cannot be created"),
        (["--log", "/proc/room.log"], "--log /proc/room.log: cannot be written"),
        (["--size", "321x181"], "--size 321x181: the mirror needs even sides, e.g. 320x180"),
        (["--source", ""], "--source is empty"),
        (["--host", ""], "--host is empty"),
        (["--name", "evil name"], "--name 'evil name': not a host name or an IP address"),
    ],
)
def test_an_unusable_folder_or_file_is_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    assert says in _refused(tmp_path, "--takes", str(tmp_path / "takes"), *args)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "70000"], "port 70000 out of range (0..65535)"),
        (["--port", "-1"], "port -1 out of range"),
        (["--fps", "1e9"], "must be 1..240 frames a second"),
    ],
)
def test_an_out_of_range_number_is_a_usage_error(args: list[str], says: str) -> None:
    result = run_cli("serve", *args)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr
