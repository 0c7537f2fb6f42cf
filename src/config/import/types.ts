/** What every importer (dnsmasq, rpld) returns: YAML plus what it could not carry over. */
export interface ImportWarning {
  /** 1-based line in the imported file; 0 = about the file as a whole. */
  line: number;
  /** The included file the line is in (conf-file, conf-dir ...); absent = the imported file. */
  file?: string;
  message: string;
}

export interface ImportResult {
  yaml: string;
  warnings: ImportWarning[];
}
