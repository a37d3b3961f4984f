"""``python -m helpers.audit --model torchvision:resnet18 --dataset fashion-mnist --cuts layer1,layer2,layer3
--scale quick --out build/audit/resnet18``: the audit of notebook 09 as a command.

Every argument is checked (the schema of notebook 09) before any training; a bad one exits with
status 2 and one line per problem. The report (audit.csv, audit_per_seed.csv, audit.png, audit.md)
goes to ``--out``.
"""
from __future__ import annotations

import argparse
import sys

from ..pipeline.parameters import validate
from .recommend import recommend_cut
from .report import summary_text, write_report
from .run import AuditPlan, run_audit


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m helpers.audit", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="torchvision:NAME or package.module:function")
    p.add_argument("--cuts", required=True, type=_list,
                   help="module names as named_modules() prints them, comma-separated")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--scale", default="quick")
    p.add_argument("--seed", default=0, type=int, help="the first seed")
    p.add_argument("--n-seeds", default=1, type=int, help="how many seeds, from --seed on (intervals need 2 or more)")
    p.add_argument("--attackers", default=["standard", "strong"], type=_list, help="standard, strong or both")
    p.add_argument("--checkpoint", default="", help="a state dict of the model (default: train it at the scale)")
    p.add_argument("--max-edge-mflops", default=0.0, type=float, help="the edge's budget (0: none)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="build/audit")
    return p


def main(argv: list[str] | None = None) -> int:
    values = vars(parser().parse_args(argv))
    try:
        checked = validate("09", values)
    except ValueError as error:
        print(str(error).replace("notebook 09", "helpers.audit"), file=sys.stderr)
        return 2
    plan = AuditPlan(checked.model, tuple(checked.cuts), checked.dataset, checked.scale,
                     tuple(range(checked.seed, checked.seed + checked.n_seeds)),
                     tuple(checked.attackers), checked.checkpoint or None, checked.max_edge_mflops or None,
                     checked.device)
    result = run_audit(plan)
    recommendation = recommend_cut(result["table"], plan.max_edge_mflops)
    paths = write_report(result, recommendation, checked.out)
    print(summary_text(result, recommendation))
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
