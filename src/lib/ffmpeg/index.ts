export { demoSourceArgs, transcodeToH264Args, snapshotFromAnnexBArgs, snapshotFromRtspArgs, sanitizeDrawText, defaultFontFile, timeOfDaySeconds, DEFAULT_FONT_FILES, type DemoSourceArgs, type TranscodeArgs } from './args.js'
export { SupervisedProcess, runToBuffer, redactSecrets, liveChildCount, type SupervisedProcessOptions, type ProcessExit } from './process.js'
export { AnnexBParser, type AnnexBAccessUnit, type AnnexBCodec } from './annexb.js'
