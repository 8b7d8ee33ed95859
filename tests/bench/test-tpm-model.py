"""Unit tests of tests/bench/tpm-model.py (meson test bench-model): command bytes -> cost class, trace x
latency table -> milliseconds by hand-computed vectors, refusals, and the target verdicts. The command vectors
are commands volseal, systemd 252 and clevis 19 sent to swtpm (tests/lib/tpm-relay.py --trace), except the RSA
ones, which are written out field by field."""
import importlib.machinery
import importlib.util
import os
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
_loader = importlib.machinery.SourceFileLoader("tpm_model", os.path.join(HERE, "tpm-model.py"))
_spec = importlib.util.spec_from_loader("tpm_model", _loader)
model = importlib.util.module_from_spec(_spec)
_loader.exec_module(model)

# volseal: CreatePrimary of the ECC P-256 SRK (password session, unique x = y = 32 zero bytes)
VS_CREATE_PRIMARY = ("800200000083000001314000000100000009400000090000000000000400000000005a0023000b0003047200000006"
                     "0080004300100003001000200000000000000000000000000000000000000000000000000000000000000000002000"
                     "000000000000000000000000000000000000000000000000000000000000000000000000000000")
# volseal: StartAuthSession(policy) salted to the SRK 0x80000000, encryptedSalt = an ECC point (x, y of 32)
VS_SALTED = ("8001000000830000017680000000400000070020a785606210be86449bb6b2678bb66681d54ba36d5540a006367fbe0cfcbd"
             "df92004400204e99636a2358fe07cb219d42249a34e5b5d7402e00f96decd128013290d7379f002097ef962e98b8a8bb7b31"
             "9588a3fedc6b5f0666eb3044ee53cde15085cec7559e01000600800043000b")
# systemd: the policy session, salted to 0x80000000 and sent with its HMAC session (tag 0x8002, auth area)
SD_SALTED_WITH_AUTH = (
    "8002000000d00000017680000000400000070000004902000000002010a3d39e31cf918897a4490e544fadee429c92859e64b9fa"
    "6e3cc62951e4bc406100206b61df5811fbbc7f98527282fcd2213c96958d795d84b9244faaef0fbff02f310020efb8974b2578a3b0"
    "bb70e9dc6c277424aaad2e6538a1416ec3471c5dd80eacec004400208e03d35fec2fcd71e418d9cde71409d10d5721fae5c2fb8a7a"
    "9e1939e3b0418d0020c1d849a31069a4e822975a8ba1580b912ab8d1f4d8605f2b4f866b24e651e09001000600800043000b")
# clevis: StartAuthSession unsalted and unbound (tpmKey = bind = TPM_RH_NULL)
CL_UNSALTED = ("80010000003b0000017640000007400000070020317cfaba99824af955e58d9f7ca8823ae5c52b453ad5c947aca438841b"
               "b163d80000000010000b")
# clevis: CreatePrimary of an ECC P-256 key, sent with an HMAC session (auth area of 0x49 bytes)
CL_CREATE_PRIMARY = ("8002000000830000013140000001000000490200000000200382a56ddc045fc78ca3ebf8ff367aa1dc351c6fdd4f30b7"
                     "ebe5d1151017a253010020c62acd9488ff098af81555ceb758db11ff746520593b285c02522aae175e688300040000"
                     "0000001a0023000b00030072000000060080004300100003001000000000000000000000")
# volseal and systemd: VerifySignature(PCR key 0x80000002, SHA-256 digest, RSASSA-SHA256, 256-byte signature)
VERIFY_RSA = ("800100000136000001778000000200201ec04d5c2b7a79d890d6afc5ebf95facfc2be383d773e01781e36cef45203d6200"
              "14000b0100" + "53" * 256)
POLICY_PCR = "80010000003a0000017f030000000020b2d3a7e3fa2535948fb2fdeb0a3830a7a9212edfc0d3567859cce35c95a6cea200000001000b03000800"
UNSEAL = ("80020000005b0000015e8000000100000049030000000020b249ce4a469c6489435fa9bc982afcf409e79c68770adbc50c5f38f8"
          "3c3372c4400020eed7b2a18ab9ecff3e70f529c9e9d7c7c2bb4c63ffac467d7634cf2713567216")
FLUSH = "80010000000e0000016580000001"
# volseal: Load of a sealed (keyedhash) object under the SRK
LOAD_SEALED = ("80020000010b000001578000000000000009400000090000000000009e002012b3d1d5301d57256bf571b02265abe6bed9e8ecd0"
               "302bb909d69ea63985dd370010a2e84d08d45512424cac5e2baaa87ef951cdd5d9a52bb92140ca4aa6542f16845734983d479c3a"
               "48b7afbcabf43a9558971d8b64c2fcf5daf1cf2a2d34f0d1c8b25f9b90e10ed21b25d54bd5b44a22e8f3b696cbe8856e0c37fe36"
               "27272ef09734e7be4453a163e165dd18b06ad9a8f6d3ec69b99c7902b2f015004e0008000b000004120020d047c42972a0a264bd"
               "2575df8e349e63fc940d981c5562fe65b3ea1b11955b8b001000205dff67011e62aa5749c33fdbda290c2f58d97c6bbf4f851234"
               "6ef4584e44693c")

# Written out: CreatePrimary of an RSA-2048 key (systemd's template with type RSA)
RSA_CREATE_PRIMARY = ("8002" "00000043" "00000131" "40000001"          # header, primaryHandle = owner
                      "00000009" "40000009" "0000" "00" "0000"         # password session
                      "0004" "0000" "0000"                              # inSensitive
                      "001a" "0001" "000b" "00030072" "0000"            # inPublic: RSA, SHA-256, attrs, policy
                      "0006" "0080" "0043" "0010" "0800" "00000000" "0000"  # AES-128-CFB, no scheme, 2048, e
                      "0000" "00000000")                                # outsideInfo, creationPCR
# Written out: StartAuthSession salted to a persistent RSA-2048 key: encryptedSalt of 256 bytes
RSA_SALTED = ("8001" "0000013f" "00000176" "81000001" "40000007" "0020" + "11" * 32 +
              "0100" + "22" * 256 + "01" "0006" "0080" "0043" "000b")

# A latency row whose figures make the sums easy: 31.25 KiB/s of 32-byte GetRandoms = 1000 commands/s = 1 ms
TABLE = ["# comment", "chip\tbus\trsa2048_keygen\tecc256_keygen\tecdh256\trsa2048_oaep_decrypt\trsa2048_public\t"
         "ecdsa256_verify\trng_kib_per_s",
         "X\tSPI\t1000\t100\t50\t70\t5\t30\t31.25",
         "Y\tI2C\t2000\t200\t80\t90\t7\t40\t15.625"]


def trace(*commands):
    return ["0x%s %s\n" % (c[12:20], c) for c in commands]


class Classify(unittest.TestCase):
    def cls(self, hexdata):
        return model.classify(bytes.fromhex(hexdata))

    def test_create_primary_key_type(self):
        self.assertEqual(self.cls(VS_CREATE_PRIMARY), ("CreatePrimary", "create:ecc-p256"))
        self.assertEqual(self.cls(CL_CREATE_PRIMARY), ("CreatePrimary", "create:ecc-p256"))  # past an HMAC auth
        self.assertEqual(self.cls(RSA_CREATE_PRIMARY), ("CreatePrimary", "create:rsa2048"))
        # scheme RSASSA carries a hashAlg before keyBits, RSAES none
        rsassa = RSA_CREATE_PRIMARY.replace("0010" "0800", "0014" "000b" "0800").replace("00000043", "00000045")
        self.assertEqual(self.cls(rsassa.replace("001a" "0001", "001c" "0001")), ("CreatePrimary", "create:rsa2048"))
        self.assertEqual(self.cls(RSA_CREATE_PRIMARY.replace("0010" "0800", "0015" "0800")),
                         ("CreatePrimary", "create:rsa2048"))

    def test_start_auth_session_salt(self):
        self.assertEqual(self.cls(VS_SALTED), ("StartAuthSession", "salt:ecc-p256"))
        self.assertEqual(self.cls(SD_SALTED_WITH_AUTH), ("StartAuthSession", "salt:ecc-p256"))
        self.assertEqual(self.cls(CL_UNSALTED), ("StartAuthSession", "small"))
        self.assertEqual(self.cls(RSA_SALTED), ("StartAuthSession", "salt:rsa2048"))
        # a coordinate with a leading zero byte stripped: x of 31 bytes, y of 32 (command and salt one byte shorter)
        short_x = VS_SALTED.replace("80010000008300000176", "80010000008200000176") \
                           .replace("004400204e99636a", "0043001f99636a")
        self.assertEqual(len(short_x), len(VS_SALTED) - 2)
        self.assertEqual(self.cls(short_x), ("StartAuthSession", "salt:ecc-p256"))

    def test_verify_signature_and_small(self):
        self.assertEqual(self.cls(VERIFY_RSA), ("VerifySignature", "verify:rsa2048"))
        self.assertEqual(self.cls(POLICY_PCR), ("PolicyPCR", "small"))
        self.assertEqual(self.cls(UNSEAL), ("Unseal", "small"))
        self.assertEqual(self.cls(FLUSH), ("FlushContext", "small"))
        self.assertEqual(self.cls(LOAD_SEALED), ("Load", "small"))

    def test_refusals(self):
        for bad, why in ((FLUSH[:12] + "00000999" + "80000001", "unknown command code 0x00000999"),
                         ("80010000000e0000015d80000001", "Sign"),               # asymmetric, not priced
                         (VS_SALTED[:200], "command ends"),                       # truncated
                         (RSA_CREATE_PRIMARY.replace("0800" "00000000", "0c00" "00000000"), None),
                         ("8001000000", "a command of 5 bytes")):
            with self.subTest(bad=bad[:40]):
                if why is None:  # RSA-3072 classifies, but the table has no figure: refused when priced
                    name, cls = self.cls(bad)
                    costs = model.read_latency(TABLE)["X"]
                    with self.assertRaisesRegex(model.ModelError, "no figure for CreatePrimary .create:rsa3072"):
                        model.modelled_ms([(name, cls)], costs, "X")
                    continue
                with self.assertRaisesRegex(model.ModelError, why):
                    self.cls(bad)


class Price(unittest.TestCase):
    def test_small_figure_from_rng_throughput(self):
        self.assertAlmostEqual(model.small_ms(31.25), 1.0)
        self.assertAlmostEqual(model.small_ms(14.033), 2.2269, places=4)  # SLB9670: 1000 / 449.056 GetRandoms/s

    def test_hand_computed_sum(self):
        classes = model.read_trace(trace(VS_CREATE_PRIMARY, VS_SALTED, VERIFY_RSA, POLICY_PCR, UNSEAL, FLUSH))
        chips = model.read_latency(TABLE)
        # X: ECC keygen 100 + ECDH 50 + RSA public 5 + 3 small x 1 ms = 158
        self.assertAlmostEqual(model.modelled_ms(classes, chips["X"]), 158.0)
        # Y: 200 + 80 + 7 + 3 x 2 ms = 293
        self.assertAlmostEqual(model.modelled_ms(classes, chips["Y"]), 293.0)
        # RSA: keygen 1000 + OAEP decrypt 70 + 1 small = 1071 on X
        rsa = model.read_trace(trace(RSA_CREATE_PRIMARY, RSA_SALTED, FLUSH))
        self.assertAlmostEqual(model.modelled_ms(rsa, chips["X"]), 1071.0)

    def test_trace_refusals(self):
        for lines, why in ((["\n"], "no TPM command was captured"),
                           (["0x0000017f " + FLUSH + "\n"], "does not match"),
                           (["0x00000165\n"], "not '0x<code> <hex>'"),
                           (trace(FLUSH, FLUSH[:12] + "00000999"), "trace:2: unknown command code")):
            with self.subTest(why=why), self.assertRaisesRegex(model.ModelError, why):
                model.read_trace(lines)

    def test_table_refusals(self):
        with self.assertRaisesRegex(model.ModelError, "fields"):
            model.read_latency(TABLE[:2] + ["X\tSPI\t1"])
        with self.assertRaisesRegex(model.ModelError, "ecdh256"):
            model.read_latency([TABLE[1].replace("ecdh256", "ecdh"), TABLE[2]])


class Describe(unittest.TestCase):
    def test_counts_and_srk_state(self):
        classes = model.read_trace(trace(VS_CREATE_PRIMARY, VS_SALTED, FLUSH, VS_SALTED, FLUSH))
        self.assertEqual(model.describe(classes),
                         "5 commands: 1 x CreatePrimary create:ecc-p256, 2 x StartAuthSession salt:ecc-p256, 2 small")
        self.assertEqual(model.srk_state(classes), "created each boot (1 CreatePrimary)")
        small = model.read_trace(trace(FLUSH))
        self.assertEqual(model.describe(small), "1 command: 1 small")
        self.assertEqual(model.srk_state(small), "persistent (no CreatePrimary)")


class Targets(unittest.TestCase):
    def traces(self, volseal_small):
        """systemd: 100 ms a volume on X (keygen 100); volseal: volseal_small small commands per volume."""
        sd = [("CreatePrimary", "create:ecc-p256")]
        vs = [("PolicyPCR", "small")] * volseal_small
        return {("volseal", 1): vs, ("systemd", 1): sd, ("clevis", 1): sd,
                ("volseal", 10): vs * 2, ("systemd", 10): sd * 10, ("clevis", 10): sd * 10}

    def test_met_at_the_limit(self):
        chips = {"X": model.read_latency(TABLE)["X"]}
        rows, ok = model.table(chips, self.traces(50))  # 50/100 = 0.50, 100/1000 = 0.10
        self.assertTrue(ok)
        self.assertIn("| model X | 1 | 50 | 100 | 100 | 0.50 |", rows)
        self.assertIn("| model X | 10 | 100 | 1000 | 1000 | 0.10 |", rows)

    def test_missed_is_listed(self):
        chips = {"X": model.read_latency(TABLE)["X"]}
        rows, ok = model.table(chips, self.traces(51))
        self.assertFalse(ok)
        self.assertIn("| volseal <= 0.5x systemd, 1 volume | no | X 0.51 |", rows)
        self.assertIn("| volseal <= 0.2x systemd, 10 volumes | yes | - |", rows)


if __name__ == "__main__":
    unittest.main()
