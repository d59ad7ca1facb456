#!/usr/bin/env bash
# One account per partner in the registry: member of `partners`, no shell, chrooted to /srv/sftp/<code>
# (root-owned, as OpenSSH requires) with the folders the pipeline uses owned by the partner.
# Public keys: /etc/ssh/partner-keys/<code>.pub; host key: /etc/ssh/host/ssh_host_ed25519_key (pinned
# in the Airflow connections, so it lives on a volume and survives rebuilds).
set -euo pipefail
mkdir -p /etc/ssh/authorized_keys /etc/ssh/host
[[ -f /etc/ssh/host/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/host/ssh_host_ed25519_key
for code in $(partners.sh /etc/eviction-prevention/partners.yaml); do
  id "$code" >/dev/null 2>&1 || useradd --no-create-home --home-dir / --shell /usr/sbin/nologin -G partners "$code"
  install -d -o root -g root -m 0755 "/srv/sftp/$code"
  for folder in inbox outbox processed quarantine; do
    install -d -o "$code" -g partners -m 0750 "/srv/sftp/$code/$folder"
  done
  install -o root -g root -m 0644 "/etc/ssh/partner-keys/$code.pub" "/etc/ssh/authorized_keys/$code"
done
exec /usr/sbin/sshd -D -e
