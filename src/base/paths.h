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
/* "TYPE SHA256:..." per host key, written when the server starts. */
#define RESCUE_SSH_FINGERPRINTS "/run/rescue/ssh_fingerprints"

/* The session journal (journal.h): where it is, and the variables that tell a command where
 * it was started from and that it runs on behalf of another rescue command. */
#define RESCUE_JOURNAL_DEFAULT "/run/rescue/journal.tsv"
#define RESCUE_JOURNAL_ENV "RESCUE_JOURNAL"
#define RESCUE_ORIGIN_ENV "RESCUE_ORIGIN"
#define RESCUE_NESTED_ENV "RESCUE_NESTED"

/* Boot parameters, one file each (rootfs/lib/rescue/params.sh), and the config disk. */
#define RESCUE_PARAM_DIR "/run/rescue/param"
#define RESCUE_CONFIG_MOUNT "/run/rescue/config"
#define RESCUE_CONFIG_DEVICE_FILE "/run/rescue/cfgdev"

/* https:// fetches trust the image's CA bundle (Debian's ca-certificates, tools/build-image)
 * and a private CA on the config disk. */
#define RESCUE_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define RESCUE_CONFIG_CA RESCUE_CONFIG_MOUNT "/ca.pem"

/* A file per device that a command is rescuing (repair, image, dump): unguard refuses it. */
#define RESCUE_BUSY_DIR "/run/rescue/busy"
/* unguard appends "NAME EPOCH_SECONDS" here: the report's attestation reads it. */
#define RESCUE_UNGUARDED_FILE "/run/rescue/unguarded"

#endif
