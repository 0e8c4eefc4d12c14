// SPDX-License-Identifier: Apache-2.0
//! Contents of the files every image carries under `/.singularity.d` (the contract Apptainer's
//! runtime and ours execute: `actions/*` source `env/*.sh` in name order, then run the
//! runscript, startscript, test or the requested command). Written for Stockade; they honour
//! both the `APPTAINER_*` and the older `SINGULARITY_*` variable names.

/// Sources every environment script; shared head of the action scripts.
const SOURCE_ENV: &str = r#"#!/bin/sh
for script in /.singularity.d/env/*.sh; do
    if [ -f "$script" ]; then
        . "$script"
    fi
done
"#;

/// `actions/exec`.
pub fn exec() -> String {
    format!("{SOURCE_ENV}\nexec \"$@\"\n")
}

/// `actions/run`.
pub fn run() -> String {
    format!(
        r#"{SOURCE_ENV}
app="${{APPTAINER_APPNAME:-${{SINGULARITY_APPNAME:-}}}}"
if [ -n "$app" ]; then
    if [ -x "/scif/apps/$app/scif/runscript" ]; then
        exec "/scif/apps/$app/scif/runscript" "$@"
    fi
    echo "No runscript for contained app: $app" 1>&2
    exit 1
elif [ -x /.singularity.d/runscript ]; then
    exec /.singularity.d/runscript "$@"
fi
echo "No runscript found, executing /bin/sh" 1>&2
exec /bin/sh "$@"
"#
    )
}

/// `actions/shell`.
pub fn shell() -> String {
    format!(
        r#"{SOURCE_ENV}
want="${{APPTAINER_SHELL:-${{SINGULARITY_SHELL:-}}}}"
if [ -n "$want" ] && [ -x "$want" ]; then
    exec $want "$@"
    echo "ERROR: cannot run the shell '$want'" 1>&2
    exit 1
elif [ -x /bin/bash ]; then
    SHELL=/bin/bash
    PS1="Apptainer ${{APPTAINER_NAME:-${{SINGULARITY_NAME:-}}}}:\\w> "
    export SHELL PS1
    exec /bin/bash --norc "$@"
elif [ -x /bin/sh ]; then
    SHELL=/bin/sh
    export SHELL
    exec /bin/sh "$@"
fi
echo "ERROR: /bin/sh does not exist in container" 1>&2
exit 1
"#
    )
}

/// `actions/start` (instance start: wakes PID 1, then the startscript).
pub fn start() -> String {
    let body = SOURCE_ENV.trim_start_matches("#!/bin/sh\n");
    format!(
        "#!/bin/sh\n# Tell the instance's PID 1 to go on (keep this line).\nkill -CONT 1\n\n{body}\nif [ -x /.singularity.d/startscript ]; then\n    exec /.singularity.d/startscript\nfi\n"
    )
}

/// `actions/test`.
pub fn test() -> String {
    format!(
        r#"{SOURCE_ENV}
app="${{APPTAINER_APPNAME:-${{SINGULARITY_APPNAME:-}}}}"
if [ -n "$app" ]; then
    if [ -x "/scif/apps/$app/scif/test" ]; then
        exec "/scif/apps/$app/scif/test" "$@"
    fi
    echo "No tests for contained app: $app" 1>&2
    exit 1
elif [ -x /.singularity.d/test ]; then
    exec /.singularity.d/test "$@"
fi
echo "No test found in container, executing /bin/sh -c true" 1>&2
exec /bin/sh -c true
"#
    )
}

/// `env/01-base.sh`.
pub const ENV_BASE: &str = "#!/bin/sh\n# Base environment of the image (sourced first).\n";

/// `env/90-environment.sh` before any `%environment` text.
pub const ENV_ENVIRONMENT: &str = "#!/bin/sh\n# Custom environment shell code should follow\n\n";

/// `env/95-apps.sh`: SCIF app environment.
pub const ENV_APPS: &str = r#"#!/bin/sh
# SCIF apps: put the selected app's directories first.
app="${APPTAINER_APPNAME:-${SINGULARITY_APPNAME:-}}"
if [ -n "$app" ]; then
    APPTAINER_APPNAME="$app"
    SINGULARITY_APPNAME="$app"
    export APPTAINER_APPNAME SINGULARITY_APPNAME
    if [ -d "/scif/apps/$app/" ]; then
        SCIF_APPS="/scif/apps"
        SCIF_APPROOT="/scif/apps/$app"
        export SCIF_APPROOT SCIF_APPS
        PATH="/scif/apps/$app:$PATH"
        if [ -d "/scif/apps/$app/bin" ]; then
            PATH="/scif/apps/$app/bin:$PATH"
        fi
        if [ -d "/scif/apps/$app/lib" ]; then
            LD_LIBRARY_PATH="/scif/apps/$app/lib:$LD_LIBRARY_PATH"
            export LD_LIBRARY_PATH
        fi
        for f in 01-base.sh 90-environment.sh; do
            if [ -f "/scif/apps/$app/scif/env/$f" ]; then
                . "/scif/apps/$app/scif/env/$f"
            fi
        done
        export PATH
    else
        echo "Could not locate the container application: $app" 1>&2
        exit 1
    fi
fi
"#;

/// `env/99-base.sh`.
pub const ENV_99_BASE: &str = r#"#!/bin/sh
# Libraries bound in by the runtime (GPU drivers...) come last.
if [ -z "$LD_LIBRARY_PATH" ]; then
    LD_LIBRARY_PATH="/.singularity.d/libs"
else
    LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/.singularity.d/libs"
fi
PS1="Apptainer> "
export LD_LIBRARY_PATH PS1
"#;

/// `env/99-runtimevars.sh`: `--env PATH` overrides passed by the runtime.
pub const ENV_RUNTIMEVARS: &str = r#"#!/bin/sh
# PATH set, prepended or appended on the command line (--env PATH=, --env PREPEND_PATH=...).
if [ -n "${SING_USER_DEFINED_PREPEND_PATH:-}" ]; then
    PATH="${SING_USER_DEFINED_PREPEND_PATH}:${PATH}"
fi
if [ -n "${SING_USER_DEFINED_APPEND_PATH:-}" ]; then
    PATH="${PATH}:${SING_USER_DEFINED_APPEND_PATH}"
fi
if [ -n "${SING_USER_DEFINED_PATH:-}" ]; then
    PATH="${SING_USER_DEFINED_PATH}"
fi
unset SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH SING_USER_DEFINED_PATH
export PATH
"#;

/// Default `runscript` when nothing defines one.
pub const RUNSCRIPT_DEFAULT: &str =
    "#!/bin/sh\n\necho \"There is no runscript defined for this container\"\n";

/// Default `startscript`.
pub const STARTSCRIPT_DEFAULT: &str = "#!/bin/sh\n";

/// A definition-file script section as an executable file.
pub fn section_script(body: &str) -> String {
    format!("#!/bin/sh\n\n{body}\n")
}
