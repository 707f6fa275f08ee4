# Sourced by the entrypoints (bash). OpenShift runs an image under an arbitrary UID that /etc/passwd does
# not know; initdb, postgres, sshd and ssh-keygen refuse to run without a passwd entry. nss_wrapper
# (LD_PRELOAD) gives the running UID one from files written under /tmp, the only writable place besides
# the data volume.

# nss_wrapper_user NAME HOME [SHELL]: make the running UID resolve to NAME.
nss_wrapper_user() {
  local name=$1 home=$2 shell=${3:-/usr/sbin/nologin}
  local uid gid dir=${NSS_WRAPPER_DIR:-/tmp/nss-wrapper}
  uid=$(id -u)
  gid=$(id -g)
  if [ "$uid" -eq 0 ]; then
    echo "nss_wrapper: refusing to run as root; run as any non-root UID (e.g. --user 1001:0)" >&2
    exit 1
  fi
  # A container restart keeps an emptyDir /tmp: reuse the directory, rewrite its files.
  [ -d "$dir" ] && chmod 0755 "$dir"
  mkdir -p "$dir"
  grep -v -e "^${name}:" -e "^[^:]*:[^:]*:${uid}:" /etc/passwd >"$dir/passwd"
  printf '%s:x:%s:%s:%s:%s:%s\n' "$name" "$uid" "$gid" "mlops-stack $name" "$home" "$shell" >>"$dir/passwd"
  cp /etc/group "$dir/group"
  # Read-only afterwards: where an SFTP client shares this UID, it cannot edit its own passwd entry.
  chmod 0444 "$dir/passwd" "$dir/group"
  chmod 0555 "$dir"
  export LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD="$dir/passwd" NSS_WRAPPER_GROUP="$dir/group"
  export USER="$name" LOGNAME="$name" HOME="$home"
}

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
