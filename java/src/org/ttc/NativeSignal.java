package org.ttc;

/** Filled by the native code: one signal or report, as plain fields. */
final class NativeSignal {
    int kind;
    String peer;
    String errorPhase;
    String errorKind;
    int errorOsCode;
    String errorMessage;
    String reason;
    long sent;
    long received;
    long unsent;
    long acked;
    long resent;
    long lost;
    int connections;
    int attempts;
    String tlsVersion;
    String tlsCipher;
    int attempt;
    long delayMs;
    boolean hasError;
    String reportErrorPhase;
    String reportErrorKind;
    int reportErrorOsCode;
    String reportErrorMessage;

    ConnectionError error() {
        return new ConnectionError(errorPhase, errorKind, errorOsCode, errorMessage);
    }

    Report report() {
        ConnectionError e = hasError
                ? new ConnectionError(reportErrorPhase, reportErrorKind, reportErrorOsCode, reportErrorMessage)
                : null;
        return new Report(reason, sent, received, unsent, acked, resent, lost, connections, attempts,
                tlsVersion == null || tlsVersion.isEmpty() ? null : tlsVersion,
                tlsCipher == null || tlsCipher.isEmpty() ? null : tlsCipher, e);
    }
}
