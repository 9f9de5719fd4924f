/* abi-types.c - the plugin ABI as an object file, for libabigail.
 *
 * <aether/plugin.h> declares types, not functions, so there is nothing for
 * abidw to describe in a plugin or in aether itself that covers the whole
 * ABI.  This file is compiled (with -g) into a small shared object against
 * one version of the header; its one exported function takes every public
 * type, so the object's debug information describes all of them with their
 * sizes, offsets and enumerator values.  tests/abi-check.sh compares the
 * object built from the current header with abi/abi-1.0.xml, the same
 * object built from the frozen 1.0 header (abi/1.0/aether/plugin.h).
 *
 * Never change this function's parameters: add a new function for a type
 * that is added to the ABI.
 */
#include <aether/plugin.h>

void aether_abi_1_0(const struct aether_plugin *plugin,
		    const struct aether_host *host,
		    const struct aether_vm *vm,
		    const struct aether_attachment *att,
		    const struct aether_option *option,
		    const struct aether_helper_spec *helper_spec,
		    struct aether_helper *helper,
		    enum aether_log_level log_level,
		    enum aether_option_type option_type,
		    enum aether_attach_kind attach_kind);

void aether_abi_1_0(const struct aether_plugin *plugin,
		    const struct aether_host *host,
		    const struct aether_vm *vm,
		    const struct aether_attachment *att,
		    const struct aether_option *option,
		    const struct aether_helper_spec *helper_spec,
		    struct aether_helper *helper,
		    enum aether_log_level log_level,
		    enum aether_option_type option_type,
		    enum aether_attach_kind attach_kind)
{
	(void)plugin; (void)host; (void)vm; (void)att; (void)option;
	(void)helper_spec; (void)helper; (void)log_level; (void)option_type;
	(void)attach_kind;
}
