/* paths.h: the places on the appliance that rescue relies on, in one spot. */
#ifndef RESCUE_PATHS_H
#define RESCUE_PATHS_H

/* The busybox shell: `rescue -c` and the menu's shell actions run it. */
#define RESCUE_SHELL "/bin/sh"

/* Where sysfs is mounted; the environment variable moves it so tests can use a fake tree. */
#define RESCUE_SYSFS_DEFAULT "/sys"
#define RESCUE_SYSFS_ENV "RESCUE_SYSFS"

/* dropbear writes its pid here when rootfs/ starts it. */
#define RESCUE_SSH_PIDFILE "/run/dropbear/dropbear.pid"	/* rootfs/lib/rescue/ssh.sh */

#endif
