"""The platform demo: ``python -m sandbox demo`` (``make demo``).

Starts the Consul, Marathon (real processes) and Chronos stand-ins and the
registrator, applies the formula with salt-call into a scratch root, runs
consul-template (ctmpl) and a real HAProxy, deploys the reference
test-server under service-wrapper.sh to staging and production, shows
requests through HAProxy, then changes things under a steady load (rolling
redeploy, a Consul KV change, a deploy that fails and rolls back) and
reports failed requests and latency per step. Everything it starts is
stopped at the end or on Ctrl-C.

By default it runs in a network namespace of its own (needs root), so the
fixed ports (3000, 13000, 8080, 8500, 80, ...) cannot clash with anything
else on the machine and nothing leaves loopback; ``--no-namespace`` runs it
in the current one, where those ports must be free.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from sandbox.netns import NamespaceError, NetworkNamespace

from . import formula
from .platform import Platform
from .processes import ProcessError
from .scenario import STEPS_UNDER_LOAD, TEMPLATE, Scenario, StepError

__all__ = ["add_arguments", "serve"]

DEFAULT_ROOT = formula.REPO_ROOT / ".demo"


def add_arguments(parser):
    parser.add_argument(
        "--root",
        default=str(DEFAULT_ROOT),
        help="scratch root the formula is applied into, with the logs (default .demo/)",
    )
    parser.add_argument("--instances", type=int, default=4, help="production instances (4)")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second of load")
    parser.add_argument(
        "--steps",
        type=step_list,
        default=list(STEPS_UNDER_LOAD),
        help=f"changes made under load, in order (default {','.join(STEPS_UNDER_LOAD)})",
    )
    parser.add_argument(
        "--no-namespace",
        dest="namespace",
        action="store_false",
        help="run in the current network namespace (its ports must be free)",
    )


def step_list(text):
    steps = [step for step in text.split(",") if step]
    unknown = [step for step in steps if step not in STEPS_UNDER_LOAD]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown step {', '.join(unknown)}; choose from {', '.join(STEPS_UNDER_LOAD)}"
        )
    return steps


def serve(args):
    if not args.namespace:
        return run(args)
    if os.geteuid() != 0:
        print("make demo needs root: it runs in a network namespace of its own", file=sys.stderr)
        return 2
    return run_in_namespace(args)


def run_in_namespace(args):
    """Run the demo as a child inside a new namespace; delete it after."""
    argv = [sys.executable, "-m", "sandbox", "demo", "--no-namespace", "--root", args.root]
    argv += ["--instances", str(args.instances), "--rate", str(args.rate)]
    argv += ["--steps", ",".join(args.steps)]
    try:
        namespace = NetworkNamespace(name=f"mesos-demo-{os.getpid()}").create()
    except NamespaceError as error:
        print(f"demo: cannot create a network namespace: {error}", file=sys.stderr)
        return 2
    # The child has a session of its own, so Ctrl-C (or a SIGTERM) reaches
    # it exactly once, forwarded from here; it then stops what it started.
    child = None

    def forward(signum, frame):
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        child = subprocess.Popen(
            namespace.command(argv), cwd=formula.REPO_ROOT, start_new_session=True
        )
        status = child.wait()
        left = namespace.pids()
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        namespace.delete()  # kills anything still in it
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if left:
        print(f"demo: {len(left)} processes were left and have been killed", file=sys.stderr)
        return status or 1
    print(f"network namespace {namespace.name} deleted; nothing left running", flush=True)
    return status


def run(args):
    started = time.monotonic()

    def say(message):
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    root = os.path.abspath(args.root)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "logs"))
    pillar = formula.demo_pillar(root, TEMPLATE)
    platform = Platform(root, pillar, say=say)
    scenario = Scenario(platform, say, instances=args.instances, load_rate=args.rate)
    status = 1
    try:
        platform.start_stand_ins()
        platform.apply_formula(formula.DEMO_STATES)
        platform.start_load_balancer()
        scenario.deploy_both_environments()
        scenario.show_requests()
        scenario.under_load(args.steps)
        print(scenario.summary(), flush=True)
        with open(os.path.join(root, "results.json"), "w") as results:
            json.dump(scenario.results(), results, indent=2)
        status = 0 if scenario.succeeded() else 1
    except (StepError, ProcessError, formula.SaltCallError) as error:
        say(f"demo failed: {error}")
        say(f"logs: {root}/logs")
    except KeyboardInterrupt:
        say("interrupted")
        status = 130
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        killed = platform.stop()
        forced = f" (needed SIGKILL: {', '.join(killed)})" if killed else ""
        say(f"stopped everything the demo started{forced}; configuration and logs: {root}")
    return status
