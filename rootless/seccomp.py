"""OCI ``linux.seccomp`` -> a libseccomp filter, through ctypes bindings to ``libseccomp.so.2``.

``compile_filter(spec)`` validates the profile and builds the filter in memory (so mistakes are
reported at create time); ``Filter.load()`` installs it right before ``execve``.  The Debian
``python3-seccomp`` module is not importable from ``python -I -S``, hence the direct binding.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os

ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000
ACT_NOTIFY = 0x7FC00000

_ATTR_CTL_NNP = 3

_OPS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}


class SeccompError(Exception):
    """The seccomp profile is invalid or libseccomp refused it."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


_lib: ctypes.CDLL | None = None


def _libseccomp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as e:
            raise SeccompError(
                f"cannot load libseccomp.so.2 ({e}): it is needed for linux.seccomp",
                ) from e
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp),
        ]
        _lib = lib
    return _lib


def preload() -> None:
    """dlopen libseccomp now (before ``pivot_root`` hides the host's libraries)."""
    _libseccomp()


def action_value(name: str, errno_ret: int | None = None) -> int:
    """libseccomp action for an OCI action name (``SCMP_ACT_ERRNO`` defaults to EPERM)."""
    table = {
        "SCMP_ACT_KILL": ACT_KILL_THREAD,
        "SCMP_ACT_KILL_THREAD": ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": ACT_KILL_PROCESS,
        "SCMP_ACT_TRAP": ACT_TRAP,
        "SCMP_ACT_ALLOW": ACT_ALLOW,
        "SCMP_ACT_LOG": ACT_LOG,
    }
    if name in table:
        return table[name]
    if name == "SCMP_ACT_ERRNO":
        return ACT_ERRNO | ((errno_mod.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return ACT_TRACE | ((errno_mod.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    raise SeccompError(f"unsupported seccomp action {name!r}")


def arch_name(oci: str) -> str:
    """``SCMP_ARCH_X86_64`` -> ``x86_64`` (libseccomp's name)."""
    name = oci.removeprefix("SCMP_ARCH_").lower()
    return {"x86": "x86", "i386": "x86"}.get(name, name)


class Filter:
    """A compiled libseccomp context; ``load()`` installs it on the calling thread."""

    def __init__(self, ctx: int):
        self._ctx = ctx

    def load(self) -> None:
        ret = _libseccomp().seccomp_load(self._ctx)
        if ret < 0:
            raise OSError(-ret, f"seccomp_load: {os.strerror(-ret)}")

    def release(self) -> None:
        if self._ctx:
            _libseccomp().seccomp_release(self._ctx)
            self._ctx = 0


def _rule_args(args: list[dict]) -> list[list[_ArgCmp]]:
    """Comparisons for one OCI syscall entry; several on one argument become separate rules."""
    cmps = []
    for a in args:
        op = _OPS.get(a.get("op", ""))
        if op is None:
            raise SeccompError(f"unsupported seccomp operator {a.get('op')!r}")
        cmps.append(_ArgCmp(int(a["index"]), op, int(a.get("value", 0)), int(a.get("valueTwo", 0))))
    if len({c.arg for c in cmps}) == len(cmps):
        return [cmps]
    return [[c] for c in cmps]


def compile_filter(spec: dict) -> Filter:
    """Build the filter described by an OCI ``linux.seccomp`` object.  Raises ``SeccompError``."""
    lib = _libseccomp()
    default = action_value(spec.get("defaultAction", "SCMP_ACT_ALLOW"), spec.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise SeccompError("seccomp_init failed")
    flt = Filter(ctx)
    try:
        ret = lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0)  # process.noNewPrivileges decides, not libseccomp
        if ret < 0:
            raise SeccompError(f"seccomp_attr_set: {os.strerror(-ret)}")
        for arch in spec.get("architectures") or []:
            token = lib.seccomp_arch_resolve_name(arch_name(arch).encode())
            if token == 0:
                raise SeccompError(f"unknown seccomp architecture {arch!r}")
            ret = lib.seccomp_arch_add(ctx, token)
            if ret < 0 and -ret != errno_mod.EEXIST:
                raise SeccompError(f"cannot add seccomp architecture {arch}: {os.strerror(-ret)}")
        for entry in spec.get("syscalls") or []:
            action = action_value(entry.get("action", ""), entry.get("errnoRet"))
            if action == default:
                continue  # libseccomp refuses rules that repeat the default action
            for name in entry.get("names") or []:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr < 0:
                    continue  # unknown on this kernel/arch: ignored, as runc and crun do
                for cmps in _rule_args(entry.get("args") or []):
                    arr = (_ArgCmp * max(len(cmps), 1))(*cmps)
                    ret = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
                    if ret < 0:
                        raise SeccompError(f"cannot add the seccomp rule for {name}: {os.strerror(-ret)}")
    except BaseException:
        flt.release()
        raise
    return flt
