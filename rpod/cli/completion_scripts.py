"""The scripts ``rpod completion bash|zsh|fish`` prints: small clients of ``rpod __complete``
(cobra's protocol, see rpod.cli.completion), so one answer serves every shell."""

from __future__ import annotations

_BASH = r"""# bash completion for @PROG@ (`@PROG@ completion bash`): candidates come from `@PROG@ __completeNoDesc`
__@FN@_complete() {
    local cur words cword out directive
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: cur words cword
    else
        cur=${COMP_WORDS[COMP_CWORD]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    fi
    out=$("${words[0]}" __completeNoDesc "${words[@]:1:cword-1}" "$cur" 2>/dev/null) || return 0
    directive=${out##*:}
    [[ $directive =~ ^[0-9]+$ ]] || directive=0
    out=${out%:*}
    (( directive & 1 )) && return 0
    (( directive & 2 )) && compopt -o nospace 2>/dev/null
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$out" -- "$cur"))
    if (( ${#COMPREPLY[@]} == 0 && (directive & 4) == 0 )); then
        if (( directive & 16 )); then
            COMPREPLY=($(compgen -d -- "$cur"))
        else
            compopt -o default 2>/dev/null
        fi
    fi
    if declare -F __ltrim_colon_completions >/dev/null 2>&1; then
        __ltrim_colon_completions "$cur"
    fi
    return 0
}
complete -o nosort -F __@FN@_complete @PROG@
"""

_ZSH = r"""#compdef @PROG@
# zsh completion for @PROG@ (`@PROG@ completion zsh`): candidates come from `@PROG@ @CMD@`
__@FN@_complete() {
    local -a lines cands
    local out directive line word desc
    out=$(${words[1]} @CMD@ "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null) || return 1
    lines=("${(@f)out}")
    directive=${lines[-1]#:}
    lines=("${(@)lines[1,-2]}")
    (( directive & 1 )) && return 1
    for line in "${lines[@]}"; do
        [[ -z $line ]] && continue
        word=${line%%$'\t'*}
        desc=""
        [[ $line == *$'\t'* ]] && desc=${line#*$'\t'}
        cands+=("${word//:/\\:}${desc:+:$desc}")
    done
    if (( ${#cands} )); then
        if (( directive & 2 )); then
            _describe -t @FN@ '@PROG@' cands -S ''
        else
            _describe -t @FN@ '@PROG@' cands
        fi
        return
    fi
    (( directive & 4 )) && return 1
    if (( directive & 16 )); then _path_files -/; else _files; fi
}
if [[ "${funcstack[1]}" == "_@FN@" ]]; then
    __@FN@_complete "$@"
else
    compdef __@FN@_complete @PROG@
fi
"""

_FISH = r"""# fish completion for @PROG@ (`@PROG@ completion fish`): candidates come from `@PROG@ @CMD@`
function __@FN@_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($tokens[1] @CMD@ $tokens[2..-1] "$cur" 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    set -e out[-1]
    if test (math "bitand($directive, 1)") -ne 0
        return
    end
    if test (count $out) -eq 0; and test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path "$cur"
        return
    end
    printf '%s\n' $out
end
complete -c @PROG@ -f -a '(__@FN@_complete)'
"""


def script(shell: str, prog: str = "rpod", no_desc: bool = False) -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    text = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}[shell]
    fn = "".join(c if c.isalnum() else "_" for c in prog)
    cmd = "__completeNoDesc" if no_desc else "__complete"
    return text.replace("@PROG@", prog).replace("@FN@", fn).replace("@CMD@", cmd)
