# bash completion for rpod (`rpod completion bash`): candidates come from `rpod __completeNoDesc`
__rpod_complete() {
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
complete -o nosort -F __rpod_complete rpod
