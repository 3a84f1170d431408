/*
 * tlslab's Java (JSSE) client: the documents' gateway is a Java program, so its words
 * ("Received fatal alert: handshake_failure", "PKIX path building failed") come from here.
 *
 * One long-lived JVM serves many probes: it reads one JSON request per line on stdin and
 * writes one JSON result per line on stdout. No external jars: a tiny JSON reader below.
 *
 * Request fields: host, port, servername, sni (bool), protocols (list or absent: JSSE
 * defaults), ciphers (IANA names, list or absent), truststore, keystore (PKCS12 paths or
 * absent), password, timeout_ms, revocation ("none", "staple", "require-staple": see
 * StapleTrust), clock_offset_ms (the client's clock runs this far ahead of the real one).
 * Result fields: ok, status, status_line, protocol, cipher, error (exception class and
 * message, then each cause), elapsed_ms, pid.
 *
 * Startup argument "--crypto-policy=limited" reproduces the pre-JCE-unlimited Java: the real
 * crypto.policy switch, so JSSE itself drops every 256-bit AES suite.
 */

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.Security;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.net.URI;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.PKIXRevocationChecker;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.EnumSet;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

public final class TlsProbe {
    private static final int MAX_RESPONSE = 64 * 1024;
    /* How long to wait for a TLS 1.3 server's verdict on our certificate before sending the request. */
    private static final int VERDICT_MS = 250;
    private static final Map<String, TrustManager[]> TRUST = new HashMap<>();
    private static final Map<String, KeyManager[]> KEYS = new HashMap<>();

    public static void main(String[] args) throws Exception {
        for (String arg : args) {
            if (arg.startsWith("--crypto-policy=")) {
                // Must precede any JCE use: the JVM reads it once (the JCE "limited" policy files).
                Security.setProperty("crypto.policy", arg.substring("--crypto-policy=".length()));
            }
        }
        // Java 17 disables TLSv1/TLSv1.1; the documents' "force TLSv1.0" fix needs them back.
        // Done before any SSL class loads; everything else in the default list stays disabled.
        String disabled = Security.getProperty("jdk.tls.disabledAlgorithms");
        if (disabled != null) {
            List<String> kept = new ArrayList<>();
            for (String item : disabled.split(",")) {
                String t = item.trim();
                if (!t.equals("TLSv1") && !t.equals("TLSv1.1") && !t.isEmpty()) kept.add(t);
            }
            Security.setProperty("jdk.tls.disabledAlgorithms", String.join(", ", kept));
        }
        // Send status_request (the JDK 17 default, stated so a changed default cannot silently
        // turn the OCSP scenarios into "no staple"). Read when the first SSL class loads.
        System.setProperty("jdk.tls.client.enableStatusRequestExtension", "true");
        warmUp();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        out.println("{\"ready\":true,\"pid\":" + ProcessHandle.current().pid() + ",\"java\":"
                + quote(System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")) + "}");
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) continue;
            Map<String, Object> result;
            try {
                result = probe(new Json(line).object());
            } catch (Exception e) {
                result = new LinkedHashMap<>();
                result.put("ok", false);
                result.put("bad_request", describe(e));
            }
            result.put("pid", ProcessHandle.current().pid());
            out.println(toJson(result));
        }
    }

    /**
     * Load and exercise the handshake's crypto once before serving. A cold JVM needs ~0.4 s to sign
     * its first CertificateVerify; a server that rejects the certificate as soon as it arrives has
     * closed the connection by then, and the client reports "Broken pipe" instead of the alert.
     */
    static void warmUp() {
        try {
            // The lab's client keys are EC (P-256); an RSA key pair would cost more to generate than it saves.
            java.security.KeyPairGenerator kpg = java.security.KeyPairGenerator.getInstance("EC");
            kpg.initialize(256);
            java.security.KeyPair kp = kpg.generateKeyPair();
            java.security.Signature sig = java.security.Signature.getInstance("SHA256withECDSA");
            for (int i = 0; i < 20; i++) {
                sig.initSign(kp.getPrivate());
                sig.update(new byte[64]);
                byte[] s = sig.sign();
                sig.initVerify(kp.getPublic());
                sig.update(new byte[64]);
                sig.verify(s);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, null, null);
            ctx.getSocketFactory().getSupportedCipherSuites();
        } catch (Exception e) {
            // only a speed-up: the probes still work (and report) without it
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> probe(Map<String, Object> req) throws Exception {
        Map<String, Object> result = new LinkedHashMap<>();
        long started = System.nanoTime();
        String host = (String) req.get("host");
        int port = ((Number) req.get("port")).intValue();
        String servername = (String) req.get("servername");
        int timeout = ((Number) req.getOrDefault("timeout_ms", 5000)).intValue();
        String password = (String) req.getOrDefault("password", "tlslab");
        SSLContext ctx;
        try {
            ctx = SSLContext.getInstance("TLS");
            // A fresh context per probe: no session resumption across scenarios or fixes.
            String revocation = (String) req.getOrDefault("revocation", "none");
            long offsetMs = ((Number) req.getOrDefault("clock_offset_ms", 0)).longValue();
            ctx.init(keyManagers((String) req.get("keystore"), password),
                     revocation.equals("none") && offsetMs == 0
                             ? trustManagers((String) req.get("truststore"), password)
                             : stapleTrust((String) req.get("truststore"), password, revocation, offsetMs),
                     null);
        } catch (Exception e) {
            result.put("ok", false);
            result.put("bad_request", describe(e));
            return result;
        }
        String stage = "connect";
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(host, port), timeout);
            raw.setSoTimeout(timeout);
            // The name given here is what JSSE verifies (endpoint identification), with or without SNI.
            try (SSLSocket tls = (SSLSocket) ctx.getSocketFactory().createSocket(raw, servername, port, true)) {
                SSLParameters params = tls.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS");
                if (Boolean.FALSE.equals(req.get("sni"))) {
                    params.setServerNames(List.of()); // per-connection jsse.enableSNIExtension=false
                }
                Object protocols = req.get("protocols");
                if (protocols != null) params.setProtocols(((List<String>) protocols).toArray(new String[0]));
                Object ciphers = req.get("ciphers");
                if (ciphers != null) params.setCipherSuites(supported(tls, (List<String>) ciphers));
                tls.setSSLParameters(params);
                stage = "handshake";
                tls.startHandshake();
                stage = "verdict";
                result.put("protocol", tls.getSession().getProtocol());
                result.put("cipher", tls.getSession().getCipherSuite());
                byte[] buf = new byte[MAX_RESPONSE];
                int n = 0;
                if (req.get("keystore") != null && "TLSv1.3".equals(tls.getSession().getProtocol())) {
                    // TLS 1.3: the server judges our certificate after our handshake is done. Writing
                    // at once races its alert against its close ("Broken pipe" one run, "Received fatal
                    // alert" the next), so give the verdict a moment to arrive and be read first.
                    tls.setSoTimeout(VERDICT_MS);
                    try {
                        int first = tls.getInputStream().read();
                        if (first != -1) buf[n++] = (byte) first;
                    } catch (java.net.SocketTimeoutException accepted) {
                        // no alert: the server accepted the certificate
                    }
                    tls.setSoTimeout(timeout);
                }
                stage = "request";
                OutputStream os = tls.getOutputStream();
                os.write(("GET / HTTP/1.1\r\nHost: " + servername + "\r\nUser-Agent: tlslab-java\r\n"
                        + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                os.flush();
                stage = "response";
                InputStream is = tls.getInputStream();
                int r;
                while (n < buf.length && (r = is.read(buf, n, buf.length - n)) != -1) n += r;
                String response = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
                String statusLine = response.split("\r\n", 2)[0];
                result.put("status_line", statusLine);
                String[] parts = statusLine.split(" ");
                if (parts.length >= 2 && parts[0].startsWith("HTTP/") && parts[1].matches("\\d+")) {
                    result.put("status", Integer.parseInt(parts[1]));
                }
                result.put("ok", result.containsKey("status"));
            }
        } catch (Exception e) {
            result.put("ok", false);
            result.put("error", describe(e));
            result.put("stage", stage);
        }
        result.put("elapsed_ms", (System.nanoTime() - started) / 1_000_000);
        return result;
    }

    /** The requested suites this JVM can enable (a limited crypto policy removes the AES-256 ones). */
    static String[] supported(SSLSocket tls, List<String> wanted) {
        List<String> have = List.of(tls.getSupportedCipherSuites());
        List<String> keep = new ArrayList<>();
        for (String s : wanted) if (have.contains(s)) keep.add(s);
        return keep.toArray(new String[0]);
    }

    static TrustManager[] trustManagers(String path, String password) throws Exception {
        if (path == null) return null;
        String key = path + "@" + new java.io.File(path).lastModified();
        TrustManager[] cached = TRUST.get(key);
        if (cached == null) {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(load(path, password));
            cached = tmf.getTrustManagers();
            TRUST.put(key, cached);
        }
        return cached;
    }

    private static final Map<String, TrustManager[]> STAPLE_TRUST = new HashMap<>();

    /** One StapleTrust per (truststore, mode, clock offset), kept for the JVM's life. */
    static TrustManager[] stapleTrust(String path, String password, String mode, long offsetMs) throws Exception {
        if (!List.of("none", "staple", "require-staple").contains(mode)) {
            throw new IllegalArgumentException("unknown revocation mode " + mode);
        }
        String key = path + "@" + new java.io.File(path).lastModified() + "|" + mode + "|" + offsetMs;
        TrustManager[] cached = STAPLE_TRUST.get(key);
        if (cached == null) {
            cached = new TrustManager[] {new StapleTrust(load(path, password), mode, offsetMs)};
            STAPLE_TRUST.put(key, cached);
        }
        return cached;
    }

    /**
     * The lab's revocation modes on JSSE's own OCSP checking.
     *
     * A stapled response is judged by JSSE itself: a PKIX TrustManager with revocation enabled
     * (PKIXRevocationChecker, ONLY_END_ENTITY: only the leaf's status is stapled), to which
     * X509TrustManagerImpl hands the session's stapled responses; so "Certificate has been
     * revoked", "Response is unreliable: its validity interval is out-of-date" are JSSE's words.
     *
     * Two things JSSE cannot be told, so this class does them and says so in its messages:
     *   - "no staple": a revocation-enabled JSSE without a staple queries the responder in the
     *     certificate's AIA (ocsp.lab.test, which the lab never lets a client reach) or soft-fails.
     *     It has no "staple required" switch and ignores must-staple (RFC 7633 TLS Feature), so
     *     the missing staple is decided here, after JSSE validated the chain without revocation.
     *   - "staple" mode tolerates an error-status response (tryLater, ...): it carries no
     *     certificate status; JSSE would reject it, so such a staple is treated as none.
     * The clock offset is PKIXBuilderParameters.setDate: the chain's and the staple's validity
     * are both judged at that date.
     */
    static final class StapleTrust extends X509ExtendedTrustManager {
        /* RFC 7633 TLS Feature extension; status_request is feature 5. */
        private static final String TLS_FEATURE_OID = "1.3.6.1.5.5.7.1.24";
        private final KeyStore anchors;
        private final String mode;
        private final long offsetMs;
        private final X509ExtendedTrustManager plainNow;  // offset 0: built once, validates at the current time
        private final X509ExtendedTrustManager checkingNow;

        StapleTrust(KeyStore anchors, String mode, long offsetMs) throws Exception {
            this.anchors = anchors;
            this.mode = mode;
            this.offsetMs = offsetMs;
            this.plainNow = offsetMs == 0 ? build(false) : null;
            this.checkingNow = offsetMs == 0 && !mode.equals("none") ? build(true) : null;
        }

        /** A PKIX trust manager: revocation off, or OCSP on the leaf from the staple only. */
        private X509ExtendedTrustManager build(boolean revocation) throws Exception {
            PKIXBuilderParameters params = new PKIXBuilderParameters(anchors, new X509CertSelector());
            if (offsetMs != 0) params.setDate(new Date(System.currentTimeMillis() + offsetMs));
            params.setRevocationEnabled(revocation);
            if (revocation) {
                PKIXRevocationChecker checker =
                        (PKIXRevocationChecker) CertPathValidator.getInstance("PKIX").getRevocationChecker();
                EnumSet<PKIXRevocationChecker.Option> options = EnumSet.of(
                        PKIXRevocationChecker.Option.ONLY_END_ENTITY, PKIXRevocationChecker.Option.NO_FALLBACK);
                if (mode.equals("staple")) options.add(PKIXRevocationChecker.Option.SOFT_FAIL);
                checker.setOptions(options);
                // Never used while a staple is present (the only case this checker runs); should JSSE
                // ever fetch anyway, it fails at once on this host instead of resolving ocsp.lab.test.
                checker.setOcspResponder(URI.create("http://127.0.0.1:1/"));
                params.addCertPathChecker(checker);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(new CertPathTrustManagerParameters(params));
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509ExtendedTrustManager) return (X509ExtendedTrustManager) tm;
            }
            throw new IllegalStateException("no X509ExtendedTrustManager from PKIX");
        }

        private X509ExtendedTrustManager plain() throws CertificateException {
            return plainNow != null ? plainNow : rebuild(false);
        }

        private X509ExtendedTrustManager checking() throws CertificateException {
            return checkingNow != null ? checkingNow : rebuild(true);
        }

        /** With a clock offset the date is now + offset at each handshake, so these are per connection. */
        private X509ExtendedTrustManager rebuild(boolean revocation) throws CertificateException {
            try {
                return build(revocation);
            } catch (Exception e) {
                throw new CertificateException("cannot build the PKIX trust manager: " + e, e);
            }
        }

        /** Which trust manager judges this chain, after the lab's own staple rules (see the class comment). */
        private X509ExtendedTrustManager choose(X509Certificate[] chain, SSLSession session, Check plainCheck)
                throws CertificateException {
            if (mode.equals("none")) return plain();
            byte[] staple = null;
            if (session instanceof ExtendedSSLSession) {
                List<byte[]> responses = ((ExtendedSSLSession) session).getStatusResponses();
                if (!responses.isEmpty() && responses.get(0) != null && responses.get(0).length > 0) {
                    staple = responses.get(0);
                }
            }
            if (staple != null && !(mode.equals("staple") && errorStatus(staple))) return checking();
            if (mode.equals("require-staple") && staple == null) {
                plainCheck.run();  // a broken chain is reported as such, before the missing staple
                throw new CertificateException("no OCSP response was stapled, and this client requires one "
                        + "(tlslab: JSSE has no staple-required option; it would query the AIA responder)");
            }
            if (staple == null && mustStaple(chain[0])) {
                plainCheck.run();
                throw new CertificateException("no OCSP response was stapled for a must-staple certificate "
                        + "(TLS Feature status_request; tlslab's check: JSSE does not enforce RFC 7633)");
            }
            return plain();
        }

        /** OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, ... }: anything but 0 (successful). */
        static boolean errorStatus(byte[] der) {
            int i = 1;
            if (der.length < 2 || der[0] != 0x30) return false;
            int len = der[i++] & 0xff;
            if (len > 0x80) i += len - 0x80;
            return i + 2 < der.length && der[i] == 0x0a && der[i + 1] == 1 && der[i + 2] != 0;
        }

        static boolean mustStaple(X509Certificate leaf) {
            byte[] ext = leaf.getExtensionValue(TLS_FEATURE_OID);
            if (ext == null) return false;
            // OCTET STRING { SEQUENCE OF INTEGER }: look for INTEGER 5 (status_request).
            for (int i = 0; i + 2 < ext.length; i++) {
                if (ext[i] == 0x02 && ext[i + 1] == 0x01 && ext[i + 2] == 0x05) return true;
            }
            return false;
        }

        /** The chain check without revocation, run before a missing staple is reported. */
        private interface Check { void run() throws CertificateException; }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            SSLSession session = socket instanceof SSLSocket ? ((SSLSocket) socket).getHandshakeSession() : null;
            choose(chain, session, () -> plain().checkServerTrusted(chain, authType, socket))
                    .checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            SSLSession session = engine != null ? engine.getHandshakeSession() : null;
            choose(chain, session, () -> plain().checkServerTrusted(chain, authType, engine))
                    .checkServerTrusted(chain, authType, engine);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            choose(chain, null, () -> plain().checkServerTrusted(chain, authType)).checkServerTrusted(chain, authType);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            plain().checkClientTrusted(chain, authType, socket);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            plain().checkClientTrusted(chain, authType, engine);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            plain().checkClientTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            try {
                return plain().getAcceptedIssuers();
            } catch (CertificateException e) {
                return new X509Certificate[0];
            }
        }
    }

    static KeyManager[] keyManagers(String path, String password) throws Exception {
        if (path == null) return null;
        String key = path + "@" + new java.io.File(path).lastModified();
        KeyManager[] cached = KEYS.get(key);
        if (cached == null) {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(load(path, password), password.toCharArray());
            cached = kmf.getKeyManagers();
            KEYS.put(key, cached);
        }
        return cached;
    }

    static KeyStore load(String path, String password) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        if (new java.io.File(path).length() == 0) {  // an empty file: an empty store (an emptied cacerts)
            ks.load(null, null);
            return ks;
        }
        try (InputStream is = new FileInputStream(path)) {
            ks.load(is, password.toCharArray());
        }
        return ks;
    }

    /** What Java prints: "class: message", then each distinct cause, as a support engineer sees it in a log. */
    static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder(e.toString());
        Throwable seen = e;
        for (Throwable c = e.getCause(); c != null && c != seen; seen = c, c = c.getCause()) {
            sb.append(" | Caused by: ").append(c.toString());
        }
        return sb.toString();
    }

    // ---- minimal JSON ------------------------------------------------------------------

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (ch < 0x20) sb.append(String.format("\\u%04x", (int) ch));
                    else sb.append(ch);
            }
        }
        return sb.append('"').toString();
    }

    static String toJson(Map<String, Object> map) {
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, Object> e : map.entrySet()) {
            if (sb.length() > 1) sb.append(',');
            sb.append(quote(e.getKey())).append(':');
            Object v = e.getValue();
            if (v == null) sb.append("null");
            else if (v instanceof Number || v instanceof Boolean) sb.append(v);
            else sb.append(quote(v.toString()));
        }
        return sb.append('}').toString();
    }

    /** Reads the flat requests Python sends: objects of strings, numbers, booleans, null, string lists. */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) { this.s = s; }

        Map<String, Object> object() {
            Map<String, Object> map = new LinkedHashMap<>();
            expect('{');
            skip();
            if (peek() == '}') { i++; return map; }
            while (true) {
                skip();
                String key = string();
                skip();
                expect(':');
                map.put(key, value());
                skip();
                char c = s.charAt(i++);
                if (c == '}') return map;
                if (c != ',') throw new IllegalArgumentException("expected , or } at " + (i - 1));
            }
        }

        Object value() {
            skip();
            char c = peek();
            if (c == '"') return string();
            if (c == '{') return object();
            if (c == '[') {
                i++;
                List<Object> list = new ArrayList<>();
                skip();
                if (peek() == ']') { i++; return list; }
                while (true) {
                    list.add(value());
                    skip();
                    char d = s.charAt(i++);
                    if (d == ']') return list;
                    if (d != ',') throw new IllegalArgumentException("expected , or ] at " + (i - 1));
                }
            }
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            return Double.parseDouble(s.substring(start, i));
        }

        String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return sb.toString();
                if (c != '\\') { sb.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': sb.append('\n'); break;
                    case 'r': sb.append('\r'); break;
                    case 't': sb.append('\t'); break;
                    case 'b': sb.append('\b'); break;
                    case 'f': sb.append('\f'); break;
                    case 'u': sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: sb.append(e);
                }
            }
        }

        private void expect(char c) {
            skip();
            if (s.charAt(i) != c) throw new IllegalArgumentException("expected " + c + " at " + i);
            i++;
        }

        private char peek() { return s.charAt(i); }

        private void skip() { while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++; }
    }
}
