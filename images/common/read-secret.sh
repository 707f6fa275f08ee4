# shellcheck shell=bash
# Sourced by the entrypoints (bash): a secret comes from an environment variable or a mounted file.

# read_secret VAR: print the value of $VAR, or the content of the file named by ${VAR}_FILE (a mounted
# Secret; trailing newlines dropped). Prints nothing when neither is set; fails when both are.
read_secret() {
  local var=$1 file_var="${1}_FILE"
  local value=${!var:-} file=${!file_var:-}
  if [ -n "$value" ] && [ -n "$file" ]; then
    echo "set either $var or $file_var, not both" >&2
    return 1
  fi
  if [ -n "$file" ]; then
    if [ ! -r "$file" ]; then
      echo "$file_var=$file: no such readable file (is the Secret mounted there?)" >&2
      return 1
    fi
    value=$(cat "$file")
  fi
  printf '%s' "$value"
}
