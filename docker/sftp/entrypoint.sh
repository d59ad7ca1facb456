#!/usr/bin/env bash
# One account per partner in the registry: member of `partners`, no shell, chrooted to /srv/sftp/<code>
# (root-owned, as OpenSSH requires) with the folders the pipeline uses owned by the partner.
# Public keys: /etc/ssh/partner-keys/<code>.pub; host key: /etc/ssh/host/ssh_host_ed25519_key (pinned
# in the Airflow connections, so it lives on a volume and survives rebuilds).
# The paths can be moved by environment variables (the native run, `make production`, uses them); the
# defaults are the container's.
set -euo pipefail
partners_file="${PARTNERS_FILE:-/etc/eviction-prevention/partners.yaml}"
sftp_root="${SFTP_ROOT:-/srv/sftp}"
host_key_dir="${HOST_KEY_DIR:-/etc/ssh/host}"
authorized_keys_dir="${AUTHORIZED_KEYS_DIR:-/etc/ssh/authorized_keys}"
partner_keys_dir="${PARTNER_KEYS_DIR:-/etc/ssh/partner-keys}"
sshd_config="${SSHD_CONFIG:-/etc/ssh/sshd_config}"
here="$(dirname "$0")"
mkdir -p "$authorized_keys_dir" "$host_key_dir" /run/sshd
getent group partners >/dev/null || groupadd --system partners
[[ -f "$host_key_dir/ssh_host_ed25519_key" ]] || ssh-keygen -q -t ed25519 -N '' -f "$host_key_dir/ssh_host_ed25519_key"
for code in $("$here/partners.sh" "$partners_file"); do
  id "$code" >/dev/null 2>&1 || useradd --no-create-home --home-dir / --shell /usr/sbin/nologin -G partners "$code"
  # useradd leaves the password field "!" (a locked account), and sshd refuses locked accounts even for a
  # key login: "*" is no password at all, but not locked.
  usermod -p '*' "$code"
  install -d -o root -g root -m 0755 "$sftp_root/$code"
  for folder in inbox outbox processed quarantine; do
    install -d -o "$code" -g partners -m 0750 "$sftp_root/$code/$folder"
  done
  install -o root -g root -m 0644 "$partner_keys_dir/$code.pub" "$authorized_keys_dir/$code"
done
exec /usr/sbin/sshd -D -e -f "$sshd_config"
