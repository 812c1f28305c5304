"""How long ``apply_edit``'s "closest passages" hint takes on a miss (issue 20, item 9).

Prints milliseconds per miss for files of 1,000-20,000 lines and searches of 5-60 lines,
each search a real passage of the file with every third line altered (the case a model hits
when it misremembers a passage). Run: ``python benchmarks/edit_near_match.py``.
"""

from __future__ import annotations

import random
import time

from orchestrator.exceptions import ToolError
from tools._edit import replace_once


def _file(lines: int, rng: random.Random) -> list[str]:
    words = ["value", "result", "count", "items", "self", "config", "data", "index", "name"]
    return [
        f"    {rng.choice(words)}_{i % 97} = {rng.choice(words)}({rng.randint(0, 999)}, "
        f"{rng.choice(words)})"
        for i in range(lines)
    ]


def main() -> None:
    rng = random.Random(20)
    print(f"{'lines':>7} {'search':>7} {'ms':>8}  found")
    for lines in (1_000, 2_600, 20_000):
        body = _file(lines, rng)
        text = "\n".join(body) + "\n"
        for size in (5, 30, 60):
            at = lines // 2
            wanted = [line + "  # changed" if i % 3 == 0 else line
                      for i, line in enumerate(body[at : at + size])]  # fmt: skip
            start = time.perf_counter()
            try:
                replace_once(text, "\n".join(wanted), "x", display="f.py")
            except ToolError as err:
                found = f"lines {at + 1}-" in str(err)
            ms = (time.perf_counter() - start) * 1000
            print(f"{lines:>7} {size:>7} {ms:>8.1f}  {found}")


if __name__ == "__main__":
    main()
