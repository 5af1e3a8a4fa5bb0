"""``nas schemes``: list the registered schemes with their order and source."""
from __future__ import annotations

import json


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the schemes' JSON forms")


def run(args) -> int:
    from nas import schemes

    for name in schemes.names():
        entry = schemes.info(name)
        if args.json:
            print(json.dumps({"name": name, "order": entry.order, "source": entry.source,
                              "scheme": entry.build().to_dict()}))
        else:
            order = "-" if entry.order is None else str(entry.order)
            print(f"{name:<12} order {order:<2} {entry.description}  [{entry.source}]")
    return 0
