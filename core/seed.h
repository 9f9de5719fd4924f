/* seed.h - the cloud-init NoCloud seed of aether create. */
#ifndef AE_SEED_H
#define AE_SEED_H

/* Make dir/seed.img: a FAT image labelled CIDATA with meta-data (instance
 * id from uuid, hostname name) and user-data (the file script), with
 * mkfs.vfat and mcopy (no root, no mount); their output goes to
 * dir/create.log.  0 or <0, having said why. */
int ae_seed_make(const char *dir, const char *name, const char *uuid,
		 const char *script);

#endif
