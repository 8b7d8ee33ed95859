/* token-plugin-test: loads a built token plugin (libcryptsetup-token-TYPE.so) the way libcryptsetup does
 * (dlopen + dlvsym of the CRYPTSETUP_TOKEN_1.0 symbols), registers it in-process with
 * crypt_token_register() (external plugins disabled, so the system's copy never answers), and drives it:
 *   token-plugin-test path                       crypt_token_external_path() of the running libcryptsetup
 *   token-plugin-test SO TYPE symbols            checks the exported ABI (and that internals are hidden)
 *   token-plugin-test SO TYPE open IMAGE         crypt_activate_by_token_pin(name NULL = check only);
 *                                                prints "opened keyslot N" or "open failed: ERRNO"
 *   token-plugin-test SO TYPE passphrase IMAGE TOKEN  the handler's open: the buffer opens the token's
 *                                                keyslot, and after buffer_free its pages are gone
 *   token-plugin-test SO TYPE validate JSON      the handler's validate: prints "valid" / "invalid"
 *   token-plugin-test SO TYPE import IMAGE JSON  crypt_token_json_set (libcryptsetup calls validate)
 *   token-plugin-test SO TYPE dump IMAGE         crypt_dump (the handler's dump lines included)
 * libcryptsetup's log goes to stdout (normal) and stderr (errors). Exit 0 = the step did what it says. */
#include <dlfcn.h>
#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void logcb(int level, const char *msg, void *usrptr) {
        /* as cryptsetup without -v/--debug: verbose and debug lines are not shown */
        if (level == CRYPT_LOG_DEBUG || level == CRYPT_LOG_DEBUG_JSON || level == CRYPT_LOG_VERBOSE)
                return;
        fputs(msg, level == CRYPT_LOG_ERROR ? stderr : stdout);
}

static void *sym(void *h, const char *name, int required) {
        void *p = dlvsym(h, name, CRYPT_TOKEN_ABI_VERSION1);
        if (!p && required) {
                fprintf(stderr, "%s@%s is not exported\n", name, CRYPT_TOKEN_ABI_VERSION1);
                exit(1);
        }
        return p;
}

static struct crypt_device *load(const char *image) {
        struct crypt_device *cd = NULL;
        int r = crypt_init(&cd, image);
        if (r >= 0)
                r = crypt_load(cd, CRYPT_LUKS2, NULL);
        if (r < 0) {
                fprintf(stderr, "cannot load %s: %s\n", image, strerror(-r));
                exit(1);
        }
        return cd;
}

int main(int argc, char **argv) {
        crypt_set_log_callback(NULL, logcb, NULL);
        if (argc == 2 && strcmp(argv[1], "path") == 0) {
                const char *p = crypt_token_external_path();
                printf("%s\n", p ? p : "");
                return p ? 0 : 1;
        }
        if (argc < 4) {
                fprintf(stderr, "usage: see the top of token-plugin-test.c\n");
                return 2;
        }
        const char *so = argv[1], *type = argv[2], *cmd = argv[3];
        crypt_token_external_disable();
        void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                fprintf(stderr, "dlopen %s: %s\n", so, dlerror());
                return 1;
        }
        const char *(*version)(void) = sym(h, CRYPT_TOKEN_ABI_VERSION, 1);
        crypt_token_handler handler = {
                .name = type,
                .open = sym(h, CRYPT_TOKEN_ABI_OPEN, 1),
                .buffer_free = sym(h, CRYPT_TOKEN_ABI_BUFFER_FREE, 1),
                .validate = sym(h, CRYPT_TOKEN_ABI_VALIDATE, 1),
                .dump = sym(h, CRYPT_TOKEN_ABI_DUMP, 1),
        };
        int r = crypt_token_register(&handler);
        if (r < 0) {
                fprintf(stderr, "crypt_token_register: %s\n", strerror(-r));
                return 1;
        }
        if (strcmp(cmd, "symbols") == 0) {
                printf("version %s\n", version());
                /* internals of libvolseal must not leak out of the plugin */
                static const char *const hidden[] = { "vs_key_get", "vs_tpm_open", "vs_log", "vs_secret_new",
                                                      "vs_token_open", "vs_kms_open" };
                for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
                        if (dlsym(h, hidden[i])) {
                                fprintf(stderr, "%s is exported\n", hidden[i]);
                                return 1;
                        }
                if (sym(h, CRYPT_TOKEN_ABI_OPEN_PIN, 0)) {
                        fprintf(stderr, "open_pin is exported, but these tokens have no PIN\n");
                        return 1;
                }
                printf("symbols ok\n");
                return 0;
        }
        if (strcmp(cmd, "validate") == 0 && argc == 5) {
                r = handler.validate(NULL, argv[4]);
                printf("%s\n", r ? "invalid" : "valid");
                return r ? 1 : 0;
        }
        if (argc < 5)
                return 2;
        struct crypt_device *cd = load(argv[4]);
        if (strcmp(cmd, "open") == 0) {
                r = crypt_activate_by_token_pin(cd, NULL, type, CRYPT_ANY_TOKEN, NULL, 0, NULL, 0);
                if (r >= 0)
                        printf("opened keyslot %d\n", r);
                else
                        printf("open failed: %d %s\n", r, strerror(-r));
        } else if (strcmp(cmd, "passphrase") == 0 && argc == 6) {
                int token = atoi(argv[5]);
                char *buf = NULL;
                size_t len = 0;
                r = handler.open(cd, token, &buf, &len, NULL);
                if (r < 0) {
                        printf("open failed: %d %s\n", r, strerror(-r));
                } else {
                        int slot = crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT, buf, len, 0);
                        long page = sysconf(_SC_PAGESIZE);
                        void *start = (void *) ((unsigned long) buf & ~((unsigned long) page - 1));
                        unsigned char vec;
                        handler.buffer_free(buf, len);
                        int gone = mincore(start, 1, &vec) < 0 && errno == ENOMEM;
                        printf("passphrase of %zu bytes opens keyslot %d; buffer %s after buffer_free\n", len, slot,
                               gone ? "unmapped" : "STILL MAPPED");
                        r = slot >= 0 && gone ? 0 : -1;
                }
        } else if (strcmp(cmd, "import") == 0 && argc == 6) {
                r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN, argv[5]);
                printf(r >= 0 ? "imported as token %d\n" : "refused: %d\n", r);
        } else if (strcmp(cmd, "dump") == 0) {
                r = crypt_dump(cd);
        } else {
                r = -EINVAL;
        }
        crypt_free(cd);
        return r < 0 ? 1 : 0;
}
