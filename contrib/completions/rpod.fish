# fish completion for rpod (`rpod completion fish`): candidates come from `rpod __complete`
function __rpod_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($tokens[1] __complete $tokens[2..-1] "$cur" 2>/dev/null)
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
complete -c rpod -f -a '(__rpod_complete)'
