"""Users and groups of an image: ``/etc/passwd`` and ``/etc/group`` read from its layer directories.

The image is not mounted: a file is looked up in the layer ``diff/`` directories from the top
layer down, honouring overlay whiteouts (a 0:0 character device named like the file) and opaque
directories (xattr ``user.overlay.opaque=y`` or ``trusted.overlay.opaque=y``), which hide
everything below them.  A plain root filesystem is a one-layer image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rpod.errors import EXIT_CANNOT_INVOKE, UsageError
from rpod.image.layerfs import find_in_layers
from rpod.records import field, record


@record(frozen=True)
class ResolvedUser:
    """The process identity for ``process.user`` (and ``HOME`` when the passwd file knows it)."""

    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    home: str | None = None
    name: str | None = None


UserLookup = Callable[[str, Sequence[str]], ResolvedUser]
"""``lookup(user_spec, group_add) -> ResolvedUser``: what ``SpecContext.passwd_lookup`` holds."""


def _read_colon_file(path: Path | None) -> list[list[str]]:
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


@record
class PasswdDB:
    """The ``passwd`` and ``group`` entries of one image (empty when it has no such files)."""

    passwd: list[list[str]]
    group: list[list[str]]

    @classmethod
    def from_layers(cls, layer_dirs_top_first: Sequence[Path | str]) -> PasswdDB:
        return cls(_read_colon_file(find_in_layers(layer_dirs_top_first, "/etc/passwd")),
                   _read_colon_file(find_in_layers(layer_dirs_top_first, "/etc/group")))

    def user_by_name(self, name: str) -> list[str] | None:
        return next((r for r in self.passwd if len(r) >= 4 and r[0] == name), None)

    def user_by_uid(self, uid: int) -> list[str] | None:
        return next((r for r in self.passwd if len(r) >= 4 and r[2] == str(uid)), None)

    def group_gid(self, name: str) -> int | None:
        row = next((r for r in self.group if len(r) >= 3 and r[0] == name), None)
        return int(row[2]) if row and row[2].isdigit() else None

    def member_gids(self, user: str) -> list[int]:
        """Groups that list ``user`` as a member, in file order."""
        out = []
        for r in self.group:
            if len(r) >= 4 and r[2].isdigit() and user in r[3].split(","):
                out.append(int(r[2]))
        return out


def _to_id(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def resolve_with_db(spec: str, db: PasswdDB, group_add: Sequence[str] = ()) -> ResolvedUser:
    """``USER[:GROUP]`` → uid/gid/additional gids/home, the way Podman does it:
    a numeric uid not in passwd runs with gid 0 (or the given group) and no HOME; a name not in
    passwd is an error; supplementary groups are the primary gid plus the groups listing the user."""
    from rpod.container.options import parse_user

    user, group = parse_user(spec)
    user = user or "0"
    entry = db.user_by_uid(int(user)) if user.isdigit() else db.user_by_name(user)
    if entry is None and not user.isdigit():
        raise UsageError(f"unable to find user {user}: no matching entries in passwd file",
                         exit_code=EXIT_CANNOT_INVOKE)  # 126, as Podman
    uid = int(user) if user.isdigit() else int(entry[2])  # type: ignore[index]
    gid = int(entry[3]) if entry and entry[3].isdigit() else 0
    if group is not None:
        g = _to_id(group)
        if g is None:
            g = db.group_gid(group)
            if g is None:
                raise UsageError(f"unable to find group {group}: no matching entries in group file",
                                 exit_code=EXIT_CANNOT_INVOKE)
        gid = g
    extra: list[int] = [gid]
    if entry is not None:
        extra += db.member_gids(entry[0])
    for g_name in group_add:
        if g_name == "keep-groups":
            continue  # the runtime keeps the caller's groups (annotation set by ocispec)
        g = _to_id(g_name)
        if g is None:
            g = db.group_gid(g_name)
            if g is None:
                raise UsageError(f"unable to find group {g_name}: no matching entries in group file",
                                 exit_code=EXIT_CANNOT_INVOKE)
        extra.append(g)
    home = entry[5] if entry is not None and len(entry) >= 6 and entry[5] else None
    return ResolvedUser(uid, gid, list(dict.fromkeys(extra)), home, entry[0] if entry else None)


def resolve_user(spec: str, layer_dirs: Sequence[Path | str], group_add: Sequence[str] = ()) -> ResolvedUser:
    """Resolve ``--user`` against the image whose layer dirs are given **top layer first**."""
    return resolve_with_db(spec, PasswdDB.from_layers(layer_dirs), group_add)


def layer_lookup(layer_dirs_top_first: Sequence[Path | str]) -> UserLookup:
    """A ``passwd_lookup`` for ``SpecContext`` reading the image's files once, lazily."""
    cache: list[PasswdDB] = []

    def lookup(spec: str, group_add: Sequence[str] = ()) -> ResolvedUser:
        if not cache:
            cache.append(PasswdDB.from_layers(layer_dirs_top_first))
        return resolve_with_db(spec, cache[0], group_add)

    return lookup


def added_entries(layer_dirs_top_first: Sequence[Path | str], passwd_lines: Sequence[str],
                  group_lines: Sequence[str], by_name: Sequence[str] = ()) -> tuple[str | None, str | None]:
    """The image's ``/etc/passwd`` and ``/etc/group`` with ``NAME:...:ID:...`` lines appended,
    each only when the image lacks its id (keep-id's entries, as Podman) or, for the lines in
    ``by_name`` (``--hostuser``'s), its name or its id; None for a file that needs nothing (or
    that the image lacks)."""
    out: list[str | None] = []
    for name, lines in (("etc/passwd", passwd_lines), ("etc/group", group_lines)):
        path = find_in_layers(layer_dirs_top_first, name)
        try:
            text = path.read_text(errors="replace") if path is not None and path.is_file() else None
        except OSError:
            text = None
        if text is None:
            out.append(None)
            continue
        rows = [ln.split(":") for ln in text.splitlines()]
        names = {r[0] for r in rows}
        ids = {_to_id((r + ["", "", ""])[2]) for r in rows}
        add = []
        for line in lines:
            fields = line.split(":")
            if _to_id(fields[2]) in ids or (line in by_name and fields[0] in names):
                continue
            names.add(fields[0])
            ids.add(_to_id(fields[2]))
            add.append(line.rstrip("\n") + "\n")
        out.append(text + ("" if text.endswith("\n") or not text else "\n") + "".join(add) if add else None)
    return out[0], out[1]
