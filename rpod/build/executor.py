"""Runs a planned build: one image per step (the cache), stages in dependency order.

Output follows Podman/buildah (``[1/2] STEP 3/5: RUN ...``, ``--> Using cache <id>``,
``--> <id>``, ``COMMIT name``); it goes through ``emit`` (one line at a time) while RUN
output goes to the build's stdout/stderr fds directly.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rootless.errors import RootlessError
from rpod.build import imageconfig as ic
from rpod.build.cache import BuildCache, step_key
from rpod.build.ignore import Ignore
from rpod.build.options import BuildOptions, BuildResult, build_platform
from rpod.build.parser import Instruction, parse, parse_onbuild
from rpod.build.shell import expand
from rpod.build.stages import PROXY_ARGS, Plan, Stage, plan
from rpod.errors import RpodError, UsageError
from rpod.image.localstore import LocalLayer, add_image, local_layer
from rpod.image.store import ImageRecord, ImageStore
from rpod.paths import Paths

Emit = Callable[[str], None]


class BuildError(RpodError):
    """A step failed: the message names the step as Podman does, the hint the line."""


@dataclass
class State:
    """Where a stage stands: its config, its layers, the image of its last step."""

    config: dict[str, Any]
    layers: list[LocalLayer]
    image_id: str | None
    args: dict[str, str] = field(default_factory=dict)
    shell: list[str] = field(default_factory=lambda: list(ic.DEFAULT_SHELL))
    cmd_set: bool = False
    base_layers: int = 0  # how many layers came from the FROM image (for --squash)

    def copy(self) -> State:
        return State(copy.deepcopy(self.config), list(self.layers), self.image_id, dict(self.args), list(self.shell),
                     False, len(self.layers))


class Builder:
    def __init__(self, paths: Paths, opts: BuildOptions, emit: Emit) -> None:
        self.lease: Any = None  # rpod.image.lease.Lease while run() runs
        self.paths = paths
        self.opts = opts
        self._emit = emit
        self.cf = parse(opts.containerfile)
        self.plan: Plan = plan(self.cf, opts.build_args, opts.target)
        self.ignore = (Ignore.from_file(opts.ignorefile) if opts.ignorefile
                       else Ignore.for_context(opts.context, opts.containerfile_path))
        self.store = ImageStore(paths)
        self.cache = BuildCache(paths)
        self.results: dict[int, State] = {}
        self.used_args: set[str] = set(self.plan.used_args)
        self.lock = threading.Lock()
        self.created = ic.iso(opts.timestamp if opts.timestamp is not None else time.time())
        self.multi = len(self.plan.stages) > 1

    # ------------------------------------------------------------------ output
    def emit(self, text: str) -> None:
        if not self.opts.quiet:
            with self.lock:
                self._emit(text)

    def prefix(self, st: Stage) -> str:
        if not self.multi:
            return ""
        pos = [s.index for s in self.plan.stages].index(st.index)
        return f"[{pos + 1}/{len(self.plan.stages)}] "

    # ------------------------------------------------------------------ driver
    def run(self) -> BuildResult:
        from rpod.build import steps

        self.steps = steps
        from rpod.build.runner import abort_steps, finish_cleanups
        from rpod.image.lease import Lease

        final = self.plan.stages[-1]
        try:
            # a lease (rpod.image.lease): an rmi/prune during the build keeps its base images' layers
            # and the layers and blobs its steps write before their images are recorded
            with Lease(self.paths, "build") as self.lease:
                if self.opts.jobs > 1 and len(self.plan.stages) > 1:
                    state = self._run_parallel(final)
                else:
                    state = State({}, [], None)
                    for st in self.plan.stages:
                        state = self.stage(st, st is final)
                        self.results[st.index] = state
                record = self.finish(final, state)
        except BaseException:  # an error, ^C or SIGTERM: no step's container outlives the build
            abort_steps(self.paths)
            raise
        finally:
            finish_cleanups()
        unused = sorted(a for a in self.opts.build_args if a not in self.used_args and a not in PROXY_ARGS)
        if unused:
            self.emit(f"[Warning] one or more build args were not consumed: [{' '.join(unused)}]")
        return BuildResult(record.id, list(self.opts.tags))

    def _run_parallel(self, final: Stage) -> State:
        """``--jobs N``: a thread per stage, at most N building at once, each after its dependencies."""
        done = {s.index: threading.Event() for s in self.plan.stages}
        slots = threading.Semaphore(self.opts.jobs)
        errors: list[BaseException] = []

        def work(st: Stage) -> None:
            try:
                for d in st.deps:
                    done[d].wait()
                if errors:
                    return
                with slots:
                    self.results[st.index] = self.stage(st, st is final)
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                errors.append(e)
            finally:
                done[st.index].set()

        threads = [threading.Thread(target=work, args=(st,), daemon=True) for st in self.plan.stages]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return self.results[final.index]

    def stage(self, st: Stage, final: bool) -> State:
        pre = self.prefix(st)
        from_text = st.from_ins.original
        if st.base_stage is not None:
            base_id = self.results[st.base_stage].image_id or ""
            from_text = f"FROM {base_id}" + (f" AS {st.name}" if not st.name.isdigit() else "")
        self.emit(f"{pre}STEP 1/{st.steps}: {from_text}")
        state = self.from_state(st)
        triggers = list(ic.inner(state.config).pop("OnBuild", None) or [])
        for text in triggers:
            trig = parse_onbuild(Instruction("ONBUILD", text, st.from_ins.line, "ONBUILD " + text))
            state = self.step(st, trig, state, last=False, final=False, show=False)
        for n, ins in enumerate(st.instructions):
            self.emit(f"{pre}STEP {n + 2}/{st.steps}: {ins.step_text()}")
            last = n == len(st.instructions) - 1
            state = self.step(st, ins, state, last=last, final=final)
        if not st.instructions and state.image_id is None:
            state = self.commit_state(state)
        return state

    def from_state(self, st: Stage) -> State:
        if st.base_stage is not None:
            return self.results[st.base_stage].copy()
        if st.base == "scratch":
            arch, os_name = build_platform(st.platform or self.opts.platform)
            return State(ic.new_config(None, arch, os_name), [], None)
        from rpod.image.pull import PullOptions, ensure_image

        plat = st.platform or self.opts.platform
        popts = None
        if plat:  # FROM --platform / build --platform select the manifest-list entry pulled
            arch, os_name = build_platform(plat)
            parts = plat.split("/")
            popts = PullOptions(os=os_name, arch=arch, variant=parts[2] if len(parts) > 2 else "")
        try:
            record = ensure_image(self.paths, st.base, self.opts.pull, popts)
        except RpodError as e:
            raise BuildError(f"creating build container: {e.message}", hint=e.hint,
                             exit_code=e.exit_code) from None
        if self.lease is not None:
            self.lease.add([*record.layers, "sha256:" + record.id, record.manifest_digest])
        return State(ic.new_config(self.store.config(record), "", ""), self.layers_of(record), record.id,
                     base_layers=len(record.layers))

    def layers_of(self, record: ImageRecord) -> list[LocalLayer]:
        return record_layers(self.paths, self.store, record)

    def layer_dirs(self, state: State) -> list[Any]:
        return [self.paths.layer_dir(x.diff_id) / "diff" for x in state.layers]

    # ------------------------------------------------------------------ steps
    def expand_env(self, state: State) -> dict[str, str]:
        return {**state.args, **ic.env_dict(state.config)}

    def x(self, text: str, state: State) -> str:
        return expand(text, self.expand_env(state), self.cf.escape)

    def step(self, st: Stage, ins: Instruction, state: State, *, last: bool, final: bool,
             show: bool = True) -> State:
        try:
            prepared = self.steps.prepare(self, st, ins, state)
        except RpodError as e:
            raise self.step_error(ins, e) from None
        use_cache = self.opts.layers and not self.opts.no_cache
        key = step_key(state.image_id or "scratch", ins.original, state.args, prepared.cache_extra)
        cached = self.cache.get(key) if use_cache else None
        record = self.store.get(cached) if cached else None
        if record is not None:
            new = State(self.store.config(record), self.layers_of(record), record.id, prepared.state.args,
                        prepared.state.shell, prepared.state.cmd_set, state.base_layers)
            if show:
                self.emit(f"--> Using cache {record.id}")
            self._done(st, new, last, final, show)
            return new
        try:
            new = prepared.execute()
        except RpodError as e:
            raise self.step_error(ins, e) from None
        except RootlessError as e:
            raise self.step_error(ins, RpodError(e.message, e.hint)) from None
        new = self.commit_state(new)
        if self.opts.layers:
            self.cache.put(key, new.image_id or "")
        else:  # --layers=false: never a cache entry, but still hidden by images
            self.cache.mark_intermediate(new.image_id or "")
        self._done(st, new, last, final, show)
        return new

    def _done(self, st: Stage, state: State, last: bool, final: bool, show: bool) -> None:
        if not show:
            return
        if last and final:
            name = self.opts.commit_name
            self.emit(f"{self.prefix(st)}COMMIT {name}".rstrip())
            return  # the final "-->" line comes from finish()
        if self.opts.layers:
            self.emit(f"--> {(state.image_id or '')[:11]}")

    def step_error(self, ins: Instruction, e: RpodError) -> BuildError:
        if isinstance(e, BuildError):
            return e
        return BuildError(f'building at STEP "{ins.original}": {self.where(ins)}: {e.message}', hint=e.hint,
                          exit_code=e.exit_code)

    def where(self, ins: Instruction) -> str:
        """``Containerfile:LINE`` (the file's own name), in every step error: a CI log shows it."""
        name = self.opts.containerfile_path.name if self.opts.containerfile_path else "Containerfile"
        return f"{name}:{ins.line}"

    def commit_state(self, state: State, names: list[str] | None = None,
                     annotations: dict[str, str] | None = None) -> State:
        record = add_image(self.paths, state.config, state.layers, names or [], self.opts.fmt, annotations)
        state.image_id = record.id
        return state

    def history(self, state: State, created_by: str, empty: bool) -> None:
        ic.add_history(state.config, self.created, created_by, empty)
        state.config["created"] = self.created

    # ------------------------------------------------------------------ the end
    def finish(self, st: Stage, state: State) -> ImageRecord:
        opts = self.opts
        if not st.instructions:
            self.emit(f"{self.prefix(st)}COMMIT {opts.commit_name}".rstrip())
        cfg = copy.deepcopy(state.config)
        layers = list(state.layers)
        if opts.labels:
            ic.set_labels(cfg, list(opts.labels.items()))
        if opts.squash or opts.squash_all:
            from rpod.build.squash import squash, squash_history

            keep = 0 if opts.squash_all else state.base_layers
            squashed = squash(self.paths, layers, keep, opts.compression, opts.timestamp)
            if len(squashed) != len(layers):
                cfg["history"] = squash_history(cfg.get("history") or [], keep, self.created)
            layers = squashed
        record = add_image(self.paths, cfg, layers, opts.tags, opts.fmt, opts.annotations or None)
        self.cache.put_result(record.id)
        self.emit(f"--> {record.id[:11]}")
        for t in opts.tags:
            self.emit(f"Successfully tagged {t}")
        return record


def record_layers(paths: Paths, store: ImageStore, record: ImageRecord) -> list[LocalLayer]:
    """An image's layers with their blobs' descriptors (from the manifest for a layer without a kept blob)."""
    out = []
    manifest = None
    for i, diff_id in enumerate(record.layers):
        layer = local_layer(paths, diff_id)
        if layer is None:
            manifest = manifest or store.manifest(record)
            desc = manifest["layers"][i]
            layer = LocalLayer(diff_id, desc["digest"], int(desc.get("size") or 0), desc.get("mediaType", ""))
        out.append(layer)
    return out


def build(paths: Paths, opts: BuildOptions, emit: Emit) -> BuildResult:
    """Run the build described by ``opts``; lines of progress through ``emit``."""
    if opts.fmt not in ("oci", "docker"):
        raise UsageError(f"unrecognized image type {opts.fmt!r}")
    return Builder(paths, opts, emit).run()
