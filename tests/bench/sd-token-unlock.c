/* sd-token-unlock [--flush] IMAGE TCTI SIGNATURE.json: systemd's cryptsetup token plugin (systemd-tpm2, systemd
 * 252) unseals a systemd-cryptenroll enrolment and libcryptsetup checks the keyslot, in one process, without
 * device-mapper: crypt_activate_by_token_pin(cd, NULL, "systemd-tpm2", ...) with the plugin's parameter block
 * pointing at TCTI (driver:conf, e.g. swtpm:host=127.0.0.1,port=P). This is what systemd-cryptsetup does at
 * boot, minus the dm activation; the cryptsetup CLI cannot pass the TCTI to systemd 252's plugin
 * (../shared/reference/swtpm-and-peers.md). Prints the keyslot that opened; exit 0 on success, 1 on failure,
 * 2 on usage. Each systemd-cryptsetup at boot is one such process per volume.
 *
 * --check-only IMAGE: load the LUKS2 header, print "ok", no TPM access (the smoke test).
 * --flush (first argument): afterwards flush every loaded session and transient object the plugin left in
 * the TPM (systemd 252 leaves one session), as /dev/tpmrm0 does when a client closes it; swtpm here has no
 * resource manager, and a boot of 10 volumes would otherwise run out of session slots. */
#include <libcryptsetup.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

/* systemd 252's src/shared/tpm2-util.h: the usrptr the systemd-tpm2 token plugin reads. */
struct systemd_tpm2_plugin_params {
	uint32_t search_pcr_mask;
	const char *device;
	const char *signature_path;
};

static int unlock_once(const char *image, struct systemd_tpm2_plugin_params *params, int check_only)
{
	struct crypt_device *cd = NULL;
	int r = crypt_init(&cd, image);
	if (r < 0) {
		fprintf(stderr, "sd-token-unlock: %s: crypt_init failed: %s\n", image, strerror(-r));
		return r;
	}
	r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r < 0) {
		fprintf(stderr, "sd-token-unlock: %s: not a LUKS2 header: %s\n", image, strerror(-r));
		crypt_free(cd);
		return r;
	}
	if (check_only) {
		crypt_free(cd);
		return 0;
	}
	/* name NULL: check the key only (no dm); CRYPT_ANY_TOKEN of type systemd-tpm2; no PIN */
	r = crypt_activate_by_token_pin(cd, NULL, "systemd-tpm2", CRYPT_ANY_TOKEN, NULL, 0, params, 0);
	if (r < 0)
		fprintf(stderr, "sd-token-unlock: %s: the systemd-tpm2 token did not unlock: %s\n", image, strerror(-r));
	crypt_free(cd);
	return r;
}

/* What the kernel's resource manager does at close: FlushContext of every loaded session and object.
 * tss2-sys and tss2-tctildr are dlopened here so that runs without --flush map exactly what systemd's own
 * process would. */
static int flush_all(const char *tcti)
{
	void *sys_dl = dlopen("libtss2-sys.so.1", RTLD_NOW);
	void *ldr_dl = dlopen("libtss2-tctildr.so.0", RTLD_NOW);
	if (!sys_dl || !ldr_dl)
		return -1;
	TSS2_RC (*ldr_init)(const char *, TSS2_TCTI_CONTEXT **) = (TSS2_RC(*)(const char *, TSS2_TCTI_CONTEXT **))dlsym(ldr_dl, "Tss2_TctiLdr_Initialize");
	void (*ldr_fini)(TSS2_TCTI_CONTEXT **) = (void (*)(TSS2_TCTI_CONTEXT **))dlsym(ldr_dl, "Tss2_TctiLdr_Finalize");
	size_t (*ctx_size)(size_t) = (size_t(*)(size_t))dlsym(sys_dl, "Tss2_Sys_GetContextSize");
	TSS2_RC (*sys_init)(TSS2_SYS_CONTEXT *, size_t, TSS2_TCTI_CONTEXT *, TSS2_ABI_VERSION *) =
		(TSS2_RC(*)(TSS2_SYS_CONTEXT *, size_t, TSS2_TCTI_CONTEXT *, TSS2_ABI_VERSION *))dlsym(sys_dl, "Tss2_Sys_Initialize");
	void (*sys_fini)(TSS2_SYS_CONTEXT *) = (void (*)(TSS2_SYS_CONTEXT *))dlsym(sys_dl, "Tss2_Sys_Finalize");
	TSS2_RC (*getcap)(TSS2_SYS_CONTEXT *, TSS2L_SYS_AUTH_COMMAND const *, TPM2_CAP, UINT32, UINT32, TPMI_YES_NO *,
			  TPMS_CAPABILITY_DATA *, TSS2L_SYS_AUTH_RESPONSE *) =
		(TSS2_RC(*)(TSS2_SYS_CONTEXT *, TSS2L_SYS_AUTH_COMMAND const *, TPM2_CAP, UINT32, UINT32, TPMI_YES_NO *,
			    TPMS_CAPABILITY_DATA *, TSS2L_SYS_AUTH_RESPONSE *))dlsym(sys_dl, "Tss2_Sys_GetCapability");
	TSS2_RC (*flushctx)(TSS2_SYS_CONTEXT *, TPMI_DH_CONTEXT) =
		(TSS2_RC(*)(TSS2_SYS_CONTEXT *, TPMI_DH_CONTEXT))dlsym(sys_dl, "Tss2_Sys_FlushContext");
	if (!ldr_init || !ldr_fini || !ctx_size || !sys_init || !sys_fini || !getcap || !flushctx)
		return -1;
	TSS2_TCTI_CONTEXT *tc = NULL;
	if (ldr_init(tcti, &tc) != TSS2_RC_SUCCESS)
		return -1;
	size_t size = ctx_size(0);
	TSS2_SYS_CONTEXT *sys = calloc(1, size);
	TSS2_ABI_VERSION abi = TSS2_ABI_VERSION_CURRENT;
	int r = 0;
	if (!sys || sys_init(sys, size, tc, &abi) != TSS2_RC_SUCCESS) {
		r = -1;
		goto out;
	}
	static const TPM2_HANDLE firsts[] = { TPM2_LOADED_SESSION_FIRST, TPM2_TRANSIENT_FIRST };
	for (size_t f = 0; f < 2; f++) {
		TPMI_YES_NO more = 0;
		TPMS_CAPABILITY_DATA cap = { 0 };
		if (getcap(sys, NULL, TPM2_CAP_HANDLES, firsts[f], TPM2_MAX_CAP_HANDLES, &more, &cap, NULL) != TSS2_RC_SUCCESS) {
			r = -1;
			continue;
		}
		for (uint32_t i = 0; i < cap.data.handles.count; i++)
			if (flushctx(sys, cap.data.handles.handle[i]) != TSS2_RC_SUCCESS)
				r = -1;
	}
	sys_fini(sys);
out:
	free(sys);
	ldr_fini(&tc);
	return r;
}

int main(int argc, char **argv)
{
	int flush = argc > 1 && strcmp(argv[1], "--flush") == 0;
	if (flush) {
		argv++;
		argc--;
	}
	int check_only = argc > 1 && strcmp(argv[1], "--check-only") == 0;
	if (check_only) {
		argv++;
		argc--;
	}
	if (argc < 2 || (!check_only && argc < 4)) {
		fprintf(stderr, "usage: sd-token-unlock [--flush] [--check-only] IMAGE [TCTI SIGNATURE.json]\n");
		return 2;
	}
	struct systemd_tpm2_plugin_params params = {
		.search_pcr_mask = UINT32_MAX,
		.device = check_only ? NULL : argv[2],
		.signature_path = check_only ? NULL : argv[3],
	};
	if (getenv("SD_TOKEN_DEBUG"))
		crypt_set_debug_level(CRYPT_DEBUG_ALL);
	int r = unlock_once(argv[1], &params, check_only);
	if (flush && !check_only && flush_all(argv[2]) < 0)
		fprintf(stderr, "sd-token-unlock: cannot flush the TPM's sessions and objects\n");
	if (r < 0)
		return 1;
	if (check_only)
		printf("ok\n");
	else
		printf("%d\n", r);
	return 0;
}
