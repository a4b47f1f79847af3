/* mount_name.c - the rule for a mount's name (mount.h, mount_name_ok): the
 * label after "sealfs:" in the mount's source, shown by findmnt, df and file
 * managers. It must never accept what would break the FUSE option list
 * (',', '\\', '=') or a line of /proc/self/mountinfo (control characters). */
#include "mount.h"

#include <string.h>

#include "dirobj.h"

bool mount_name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > MOUNT_NAME_MAX || !dirobj_check_utf8(name, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f || c == ',' || c == '\\' || c == '=')
			return false;
	}
	return true;
}
