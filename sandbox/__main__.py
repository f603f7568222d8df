"""``python -m sandbox consul|marathon|chronos --port N`` starts one stand-in
in the foreground; ``python -m sandbox registrator`` the registrator.
"""

import argparse
import importlib
import sys

# Each stand-in module provides add_arguments(parser) and serve(args).
COMMANDS = {
    "consul": "sandbox.consul",
    "marathon": "sandbox.marathon",
    "chronos": "sandbox.chronos",
    "registrator": "sandbox.registrator",
    "demo": "sandbox.demo",
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue  # the Chronos stand-in is not built yet
        subparser = subparsers.add_parser(name, help=(module.__doc__ or "").strip().split("\n")[0])
        module.add_arguments(subparser)
        subparser.set_defaults(serve=module.serve)
    args = parser.parse_args(argv)
    return args.serve(args) or 0


if __name__ == "__main__":
    sys.exit(main())
