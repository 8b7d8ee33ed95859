/* volume-binding.c: see volume-binding.h. */
#include "volume-binding.h"
#include "blk.h"
#include "keys/token-updatable.h"
#include "luks.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>

int vs_volume_binding_read(const char *device, uint64_t offset, uint64_t size, struct vs_volume_binding *ret) {
        *ret = (struct vs_volume_binding) {};
        enum vs_blk_content content;
        _cleanup_free_ char *what = NULL;
        int r = vs_blk_probe_at(device, offset, size, &content, &what);
        if (r < 0)
                return r;
        if (content != VS_BLK_LUKS2)
                return 0; /* empty (wiped) or something else: no updatable slot */
        _cleanup_luks_ struct vs_luks *l = NULL;
        r = vs_luks_load_validated(device, offset, size, device, &l, ret->reason, sizeof(ret->reason));
        if (r < 0)
                return r;
        struct vs_key_run run = {};
        for (unsigned id = 0; id < 32; id++) {
                struct json_object *tok = NULL;
                if (vs_luks_token_get(l, id, &tok) < 0)
                        continue;
                struct json_object *type = NULL;
                bool ours = json_object_object_get_ex(tok, "type", &type) &&
                            streq(json_object_get_string(type), VS_UPDATABLE_TOKEN_TYPE);
                struct vs_updatable_token t;
                r = ours ? vs_key_updatable_token_parse(&run, id, tok, &t) : 0;
                json_object_put(tok);
                if (r < 0) {
                        snprintf(ret->reason, sizeof(ret->reason), "%s", run.reason);
                        return -EINVAL;
                }
                if (!ours)
                        continue;
                if (ret->n_slots++ == 0) {
                        ret->slot = id;
                        ret->nv_index = t.nv_index;
                        ret->nv_name = t.nv_name;
                }
        }
        return 0;
}
