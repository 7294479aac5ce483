#!/bin/sh
# Install the edgetwin service: a system user, the configuration, the unit.
# Run as root on the board:  sudo systemd/install.sh [PREFIX]
# PREFIX (default /) lets a packaging step install into a staging tree.
set -eu

PREFIX="${1:-/}"
HERE="$(cd "$(dirname "$0")" && pwd)"
UNIT_DIR="$PREFIX/etc/systemd/system"
CONF_DIR="$PREFIX/etc/edgetwin"

install -d -m 0755 "$UNIT_DIR" "$CONF_DIR"
install -m 0644 "$HERE/edgetwin.service" "$UNIT_DIR/edgetwin.service"
if [ ! -e "$CONF_DIR/edgetwin.toml" ]; then
    edgetwin init "$CONF_DIR/edgetwin.toml"
fi

# Only on the live system: the user, and systemd itself.
if [ "$PREFIX" = "/" ]; then
    if ! id edgetwin >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/edgetwin --shell /usr/sbin/nologin edgetwin
    fi
    systemctl daemon-reload
    systemctl enable edgetwin.service
    echo "installed; start it with: systemctl start edgetwin"
fi
