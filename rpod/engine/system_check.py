"""``system check``: the consistency of the whole store (images and containers), repaired on request.

Spans two domains (a damaged image's containers), so it lives in the engine: ``check(opts)``
returns a ``CheckReport``; the front end prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rpod.paths import Paths


@dataclass
class CheckOptions:
    repair: bool = False  # remove damaged images and leftovers, fix name links
    force: bool = False  # also remove containers using damaged images
    quick: bool = False  # skip hashing blobs
    max_age: str = "24h"  # unused layers older than this (a Go duration) are leftovers of cancelled pulls


@dataclass
class Finding:
    kind: str  # image | layer | container | name | directory | store
    ident: str
    problem: str
    repaired: bool = False


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def unrepaired(self) -> list[Finding]:
        return [f for f in self.findings if not f.repaired]


def check(paths: Paths, opts: CheckOptions) -> CheckReport:
    """Check (and with ``opts.repair`` repair) images, layers, container records and name links."""
    from rpod.container import check as ccheck
    from rpod.container import lifecycle
    from rpod.container.service import parse_duration
    from rpod.container.state import ContainerStore
    from rpod.image import check as icheck
    from rpod.image.manage import containers_using

    max_age = parse_duration(opts.max_age, "--max")
    cstore = ContainerStore(paths)
    report = CheckReport()
    for p in ccheck.check(cstore, repair=opts.repair):
        report.findings.append(Finding(p.kind, p.ident, p.problem, p.repaired))
    problems = icheck.check(paths, containers_using(paths), quick=opts.quick, max_age=max_age)
    if opts.repair:
        if opts.force:
            for p in problems:
                for name in p.users if p.kind == "image" else []:
                    lifecycle.remove(paths, cstore.get(name), force=True, timeout=0)
        icheck.repair(paths, problems, opts.force)
    for p in problems:
        extra = f" (used by {', '.join(p.users)}: use --force)" if p.users and not p.repaired else ""
        report.findings.append(Finding(p.kind, p.ident, p.problem + extra, p.repaired))
    return report
