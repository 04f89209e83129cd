#!/bin/sh
# edgeboot: run the appliance CLI with Debian's node (see edgeboot(8)).
exec /usr/bin/node /usr/lib/edgeboot/dist/src/cli/edgeboot.js "$@"
