'use strict';

// `serverless package` runs offline, with no AWS credentials. For every layer, Serverless v3 then asks
// CloudFormation (describeStacks) whether the same zip is already uploaded, to reuse its S3 key: a deploy-time
// saving that needs AWS. This plugin skips that question when the command is `package`; `deploy` still asks.
class OfflineLayerPackaging {
  constructor(serverless) {
    this.hooks = {
      'before:package:initialize': () => {
        if (serverless.processedInput.commands[0] !== 'package') return;
        for (const plugin of serverless.pluginManager.plugins) {
          if (typeof plugin.compareWithLastLayer === 'function') {
            plugin.compareWithLastLayer = async () => undefined;
          }
        }
      },
    };
  }
}

module.exports = OfflineLayerPackaging;
