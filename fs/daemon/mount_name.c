/* mount_name.c - the mount's FUSE arguments (mount.h, mount_fuse_args) and
 * the rule for its name (mount_name_ok): the label after "sealfs:" in the
 * mount's source, shown by findmnt, df and file managers. It must never
 * accept a name that would break the FUSE option list (',', '\\', '=') or
 * a line of /proc/self/mountinfo (control characters). */
#include "mount.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dirobj.h"
#include "ops.h"

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

int mount_fuse_args(struct fuse_args *args, const struct mount_opts *o)
{
	char opts[256];

	snprintf(opts, sizeof(opts), "fsname=sealfs%s%s,subtype=sealfs%s%s", o->name ? ":" : "",
		 o->name ? o->name : "", o->allow_other ? ",default_permissions,allow_other" : "",
		 o->read_only ? ",ro" : "");
	if (fuse_opt_add_arg(args, "sealfs") || fuse_opt_add_arg(args, "-o") ||
	    fuse_opt_add_arg(args, opts))
		return -ENOMEM;
	if (o->fuse_opts && *o->fuse_opts &&
	    (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, o->fuse_opts)))
		return -ENOMEM;
	return 0;
}
