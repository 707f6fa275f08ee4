# shellcheck shell=bash
# Sourced by the entrypoints (bash). OpenShift runs an image under an arbitrary UID that /etc/passwd does
# not know; initdb, postgres, sshd and ssh-keygen refuse to run without a passwd entry. Both ways below
# give the running UID one from files written under /tmp, the only writable place besides the data volume.

# write_passwd_files DIR NAME HOME SHELL [SYSTEM_PASSWD]: DIR/passwd (SYSTEM_PASSWD's entries plus
# the running UID as NAME) and DIR/group; read-only afterwards (where an SFTP client shares this UID, it
# cannot edit them in place).
write_passwd_files() {
  local dir=$1 name=$2 home=$3 shell=$4 system_passwd=${5:-/etc/passwd}
  local uid gid
  uid=$(id -u)
  gid=$(id -g)
  if [ "$uid" -eq 0 ]; then
    echo "refusing to run as root; run as any non-root UID (e.g. --user 1001:0)" >&2
    exit 1
  fi
  # A container restart keeps an emptyDir /tmp: reuse the directory, rewrite its files.
  [ -d "$dir" ] && chmod 0755 "$dir"
  mkdir -p "$dir"
  rm -f "$dir/passwd" "$dir/group"
  grep -v -e "^${name}:" -e "^[^:]*:[^:]*:${uid}:" "$system_passwd" >"$dir/passwd"
  cp /etc/group "$dir/group"
  printf '%s:x:%s:%s:%s:%s:%s\n' "$name" "$uid" "$gid" "mlops-stack $name" "$home" "$shell" >>"$dir/passwd"
  chmod 0444 "$dir/passwd" "$dir/group"
  chmod 0555 "$dir"
  export USER="$name" LOGNAME="$name" HOME="$home"
}

# nss_wrapper_user NAME HOME [SHELL]: nss_wrapper (LD_PRELOAD) answers passwd/group lookups from
# /tmp/nss-wrapper (the sclorg way). Used by the postgresql image.
nss_wrapper_user() {
  local dir=${NSS_WRAPPER_DIR:-/tmp/nss-wrapper}
  write_passwd_files "$dir" "$1" "$2" "${3:-/usr/sbin/nologin}"
  export LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD="$dir/passwd" NSS_WRAPPER_GROUP="$dir/group"
}

# passwd_link_user NAME HOME [SHELL]: for images whose /etc/passwd is a symlink to
# /tmp/passwd.d/passwd (the image's own file kept as /etc/passwd.image): glibc reads the entry itself,
# no LD_PRELOAD. Used by the sftp image: nss_wrapper 1.1.12 keeps its files open, sshd closes all
# descriptors before it runs internal-sftp, the number is then reused for an opened directory and
# nss_wrapper rewinds that directory, so every SFTP listing came back twice.
passwd_link_user() {
  local name=$1 home=$2 shell=${3:-/usr/sbin/nologin} dir=/tmp/passwd.d
  [ -L /etc/passwd ] || { echo "/etc/passwd is not a symlink into $dir; use nss_wrapper_user" >&2; exit 1; }
  write_passwd_files "$dir" "$name" "$home" "$shell" /etc/passwd.image
}
