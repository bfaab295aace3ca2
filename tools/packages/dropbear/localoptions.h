/* Dropbear options for the rescue appliance. Only what differs from
 * upstream's default_options.h is here. */

/* Host keys live in /etc/dropbear and are generated at boot by init, not
 * lazily by the server, so their fingerprints can be shown on the console
 * before anyone connects. */
#define DSS_PRIV_FILENAME "/etc/dropbear/dropbear_dss_host_key"
#define RSA_PRIV_FILENAME "/etc/dropbear/dropbear_rsa_host_key"
#define ECDSA_PRIV_FILENAME "/etc/dropbear/dropbear_ecdsa_host_key"
#define ED25519_PRIV_FILENAME "/etc/dropbear/dropbear_ed25519_host_key"

/* DSA is obsolete and OpenSSH no longer accepts it. */
#define DROPBEAR_DSS 0

/* No X11 on a rescue appliance. */
#define DROPBEAR_X11FWD 0

/* The login shell (our menu) and busybox live here. */
#define DEFAULT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_ROOT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"

/* scp in the image is dropbear's; the SFTP server is not bundled. */
#define SFTPSERVER_PATH "/usr/libexec/sftp-server"

/* Password logins are compiled in (crypt() from tools/packages/musl-crypt) but
 * off at run time: the server starts with -s until an operator sets a root
 * password with `rescue ssh password`. */
#define DROPBEAR_SVR_PASSWORD_AUTH 1
