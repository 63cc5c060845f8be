"""Child process for the durability test: writes records and reports each acknowledged one on stdout.

Usage: ``python -m tests.store.durability_child <db path> <first n>``. Each line ``<n>`` is printed only
after the store acknowledged the write of the record with that ``n``; the parent kills us at random.
"""

from __future__ import annotations

import asyncio
import sys

from sidecar.store import BatchMethod, BatchOp, CallerContext, SqliteRecordStore


async def main(path: str, first: int) -> None:
    store = await SqliteRecordStore.open(path)
    master = CallerContext.master()
    n = first
    while True:
        # A mix of concurrent single creates (group commit) and batches, with a new column now and then.
        singles = [store.create("Item", {"n": n + i, f"c{(n + i) % 7}": "x"}, master) for i in range(8)]
        await asyncio.gather(*singles)
        acked = list(range(n, n + 8))
        n += 8
        batch = [BatchOp(BatchMethod.CREATE, "Item", {"n": n + i}) for i in range(8)]
        await store.batch(batch, master, transaction=True)
        acked += list(range(n, n + 8))
        n += 8
        sys.stdout.write("".join(f"{value}\n" for value in acked))
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
